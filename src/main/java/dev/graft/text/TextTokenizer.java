package dev.graft.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A model's own Hugging Face {@code tokenizer.json}, run by the Rust {@code tokenizers} library
 * through DJL (native library from the jar; nothing is downloaded with {@code ai.djl.offline}).
 * Texts are truncated to {@link #maxLength()} tokens (special tokens included) and padded per batch
 * to the longest text, never to a fixed length. One owner closes it; encoding is thread-safe.
 */
public final class TextTokenizer implements AutoCloseable {

  public static final String INPUT_IDS = "input_ids";
  public static final String ATTENTION_MASK = "attention_mask";
  public static final String TOKEN_TYPE_IDS = "token_type_ids";

  /** The file name a tokenizer has beside a base model or an exported model. */
  public static final String FILE_NAME = "tokenizer.json";

  /** Default and upper bound of {@link #maxLength()}: MiniLM's position table has 512 rows. */
  public static final int DEFAULT_MAX_LENGTH = 128;

  public static final int MAX_MAX_LENGTH = 512;

  private final HuggingFaceTokenizer tokenizer;
  private final int maxLength;
  private final String sha256;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, int maxLength, String sha256) {
    this.tokenizer = tokenizer;
    this.maxLength = maxLength;
    this.sha256 = sha256;
  }

  /**
   * Loads {@code tokenizer.json}.
   *
   * @param file the tokenizer file
   * @param maxLength tokens per text at most, special tokens included (2-512)
   */
  public static TextTokenizer load(Path file, int maxLength) {
    if (maxLength < 2 || maxLength > MAX_MAX_LENGTH) {
      throw new GraftException.InvalidArgument(
          "max sequence length " + maxLength + " must be 2-" + MAX_MAX_LENGTH + " tokens");
    }
    String sha;
    try {
      sha = sha256(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer " + file, e);
    }
    try {
      HuggingFaceTokenizer t =
          HuggingFaceTokenizer.newInstance(
              file,
              Map.of(
                  "maxLength", String.valueOf(maxLength),
                  "truncation", "true",
                  "padding", "false",
                  "addSpecialTokens", "true"));
      return new TextTokenizer(t, maxLength, sha);
    } catch (IOException | RuntimeException e) {
      throw new GraftException.InvalidArgument(
          "tokenizer " + file.getFileName() + " is not a Hugging Face tokenizer.json: " + e);
    }
  }

  /** Tokens per text at most, special tokens included. */
  public int maxLength() {
    return maxLength;
  }

  /** SHA-256 (lower-case hex) of the tokenizer file, recorded with every model that uses it. */
  public String sha256() {
    return sha256;
  }

  /** Tokenises a batch and pads it to its longest text. */
  public TokenBatch encode(List<String> texts) {
    if (texts.isEmpty()) {
      throw new GraftException.InvalidArgument("no texts to tokenise");
    }
    Encoding[] encodings = tokenizer.batchEncode(texts);
    int batch = encodings.length;
    int length = 1;
    for (Encoding e : encodings) {
      length = Math.max(length, e.getIds().length);
    }
    long[] ids = new long[batch * length];
    long[] mask = new long[batch * length];
    long[] types = new long[batch * length];
    int[] tokens = new int[batch];
    boolean[] truncated = new boolean[batch];
    for (int b = 0; b < batch; b++) {
      Encoding e = encodings[b];
      long[] rowIds = e.getIds();
      long[] rowMask = e.getAttentionMask();
      long[] rowTypes = e.getTypeIds();
      System.arraycopy(rowIds, 0, ids, b * length, rowIds.length);
      System.arraycopy(rowMask, 0, mask, b * length, rowMask.length);
      System.arraycopy(rowTypes, 0, types, b * length, rowTypes.length);
      tokens[b] = rowIds.length;
      truncated[b] = e.exceedMaxLength();
    }
    return new TokenBatch(batch, length, ids, mask, types, tokens, truncated);
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
