package dev.graft.text;

/**
 * A batch of tokenised texts, padded on the right to the longest of the batch (dynamic padding):
 * row-major {@code [batch, length]} int64 arrays, the layout ONNX Runtime and DJL take as is.
 *
 * @param batch number of texts
 * @param length tokens per row after padding (at most the tokenizer's max length)
 * @param inputIds token ids, {@code 0} ({@code [PAD]}) after each text's end
 * @param attentionMask 1 for real tokens, 0 for padding
 * @param tokenTypeIds segment ids (all 0 for single texts)
 * @param tokens real tokens per text, special tokens included
 * @param truncated whether each text was cut at the max length
 */
public record TokenBatch(
    int batch,
    int length,
    long[] inputIds,
    long[] attentionMask,
    long[] tokenTypeIds,
    int[] tokens,
    boolean[] truncated) {

  /** The three arrays in the order BERT-family encoders name their inputs. */
  public long[] input(String name) {
    switch (name) {
      case TextTokenizer.INPUT_IDS:
        return inputIds;
      case TextTokenizer.ATTENTION_MASK:
        return attentionMask;
      case TextTokenizer.TOKEN_TYPE_IDS:
        return tokenTypeIds;
      default:
        throw new IllegalArgumentException("not a token input: " + name);
    }
  }

  /** How many texts of the batch were truncated. */
  public int truncatedCount() {
    int n = 0;
    for (boolean t : truncated) {
      if (t) {
        n++;
      }
    }
    return n;
  }
}
