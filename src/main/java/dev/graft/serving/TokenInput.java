package dev.graft.serving;

import java.util.List;
import java.util.Map;

/**
 * What one request gives a token model's batcher: raw texts, tokenised together with the rest of
 * their batch and padded to the batch's longest (a text model), or int64 tensors {@code [rows,
 * length]} by input name, run as given (only with requests of the same length).
 *
 * <p>For texts, the run records here whether each text was cut at the tokenizer's max length; the
 * flags are written before the request's future completes and read after it, so that completion
 * orders them.
 */
final class TokenInput {

  private final List<String> texts;
  private final Map<String, long[]> tensors;
  private final int rows;
  private final int length;
  private final boolean[] truncated;

  private TokenInput(List<String> texts, Map<String, long[]> tensors, int rows, int length) {
    this.texts = texts;
    this.tensors = tensors;
    this.rows = rows;
    this.length = length;
    this.truncated = new boolean[rows];
  }

  static TokenInput texts(List<String> texts) {
    return new TokenInput(List.copyOf(texts), null, texts.size(), -1);
  }

  /** Tensors {@code [rows, length]} row-major, one per input of the model. */
  static TokenInput tensors(Map<String, long[]> tensors, int rows, int length) {
    return new TokenInput(null, Map.copyOf(tensors), rows, length);
  }

  boolean isText() {
    return texts != null;
  }

  List<String> texts() {
    return texts;
  }

  Map<String, long[]> tensors() {
    return tensors;
  }

  int rows() {
    return rows;
  }

  /** Tokens per row of tensors given as is (-1 for texts: known once the batch is tokenised). */
  int length() {
    return length;
  }

  /** Per text, whether it was cut at the max length (all false for tensors). */
  boolean[] truncated() {
    return truncated;
  }

  /** Texts share a run with texts; tensors with tensors of the same length. */
  static boolean joins(TokenInput first, TokenInput next) {
    return first.isText() ? next.isText() : !next.isText() && first.length == next.length;
  }
}
