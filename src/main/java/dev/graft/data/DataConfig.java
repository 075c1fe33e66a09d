package dev.graft.data;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.util.Optional;

/** Where datasets may be imported from, and the limits every dataset must keep. */
@ConfigMapping(prefix = "graft.data")
public interface DataConfig {

  /**
   * The only directory RegisterDataset may read from (after resolving '..' and symbolic links).
   * Default: {@code imports} under the data directory ({@code graft.storage.dir}).
   */
  Optional<Path> allowedRoot();

  /** Largest single example in bytes: an encoded image, 4 bytes per feature, or a UTF-8 text. */
  @WithDefault("16777216")
  long maxExampleBytes();

  /** Largest stored dataset file in bytes. */
  @WithDefault("8589934592")
  long maxDatasetBytes();

  /** Most examples in one dataset. */
  @WithDefault("10000000")
  long maxExamples();

  /** Most classes in one dataset. */
  @WithDefault("10000")
  int maxClasses();

  /** Largest image height or width in pixels, checked before an image is decoded. */
  @WithDefault("4096")
  int maxImageSide();

  /**
   * Most characters (Unicode code points) of one text example. Its UTF-8 bytes must also stay
   * within {@link #maxExampleBytes()}.
   */
  @WithDefault("100000")
  int maxTextChars();

  /** The limits as a plain value, for the code that enforces them. */
  default DatasetLimits limits() {
    return new DatasetLimits(
        maxExampleBytes(),
        maxDatasetBytes(),
        maxExamples(),
        maxClasses(),
        maxImageSide(),
        maxTextChars());
  }
}
