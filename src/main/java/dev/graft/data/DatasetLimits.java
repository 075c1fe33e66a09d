package dev.graft.data;

/**
 * Size and count limits of one dataset; exceeding one is a RESOURCE_EXHAUSTED that names the
 * setting to raise.
 *
 * @param maxTextChars most characters (Unicode code points) of one text example
 */
public record DatasetLimits(
    long maxExampleBytes,
    long maxDatasetBytes,
    long maxExamples,
    int maxClasses,
    int maxImageSide,
    int maxTextChars) {

  /** The defaults of {@link DataConfig}. */
  public static DatasetLimits defaults() {
    return new DatasetLimits(16L << 20, 8L << 30, 10_000_000L, 10_000, 4096, 100_000);
  }
}
