package dev.graft.text;

/**
 * Labelled raw texts by example index: what a text run trains on. A text dataset's reader is one;
 * tests build them from templates in code.
 */
public interface TextExamples {

  /** Number of examples. */
  int size();

  /** The raw text of example {@code i}. */
  String text(int i);

  /** The class index of example {@code i}. */
  int label(int i);

  /** All labels, by example index. */
  default int[] labels() {
    int[] out = new int[size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = label(i);
    }
    return out;
  }
}
