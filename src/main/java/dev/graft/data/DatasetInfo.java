package dev.graft.data;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A stored dataset as clients see it; class counts are in label order.
 *
 * @param textStats text datasets only (null otherwise): the longest and the mean text, in
 *     characters
 */
public record DatasetInfo(
    long id,
    String name,
    DatasetKind kind,
    DatasetSource source,
    List<String> classNames,
    List<Long> classCounts,
    long exampleCount,
    List<Long> exampleShape,
    String sha256,
    long sizeBytes,
    TextStats textStats,
    Instant createdAt) {

  /** How long the texts of a text dataset are, in characters (Unicode code points). */
  public record TextStats(long maxChars, double meanChars) {}

  static DatasetInfo of(Dataset d) {
    // JSON numbers may come back as Integer whatever the declared type: read them as Number.
    Map<String, ?> stored = d.classCounts;
    List<Long> counts = d.classNames.stream().map(n -> asLong(stored.get(n))).toList();
    return new DatasetInfo(
        d.id,
        d.name,
        DatasetKind.valueOf(d.kind),
        DatasetSource.valueOf(d.source),
        List.copyOf(d.classNames),
        counts,
        d.exampleCount,
        ((List<?>) d.exampleShape).stream().map(DatasetInfo::asLong).toList(),
        d.sha256,
        d.sizeBytes,
        d.textMaxChars == null ? null : new TextStats(d.textMaxChars, d.textMeanChars),
        d.createdAt);
  }

  private static long asLong(Object value) {
    return value == null ? 0L : ((Number) value).longValue();
  }
}
