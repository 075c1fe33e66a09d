package dev.graft.data;

import java.util.List;

/**
 * A text dataset as labelled strings, random access by index: what a tokenizer reads to train a
 * text model. A view of an open {@link DatasetReader} (thread-safe like it; valid while it is
 * open). Split it with {@link Splits} as any dataset: {@code Splits.split(reader, sha256, ...)}.
 */
public final class TextExamples {

  private final DatasetReader reader;

  TextExamples(DatasetReader reader) {
    this.reader = reader;
  }

  /** Number of examples. */
  public long size() {
    return reader.size();
  }

  /** The label (class index) of example {@code i}. */
  public int label(long i) {
    return reader.label(index(i));
  }

  /** The text of example {@code i}, exactly as it was stored. */
  public String text(long i) {
    return reader.text(index(i));
  }

  /** Class names in label order. */
  public List<String> classNames() {
    return reader.classNames();
  }

  /** The longest and the mean text length, in characters (code points). */
  public DatasetFile.TextStats stats() {
    return reader.textStats();
  }

  private int index(long i) {
    if (i < 0 || i >= reader.size()) {
      throw new IndexOutOfBoundsException("example " + i + " of " + reader.size());
    }
    return (int) i;
  }
}
