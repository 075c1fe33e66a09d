package dev.graft.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a text model takes its input: the base model's own tokenizer, the max sequence length, the
 * encoder's token inputs in graph order and the pooling before the head. Written into the exported
 * model as {@value #METADATA_KEY}, so that serving tokenises exactly as training did.
 *
 * @param tokenizer the base model's {@code tokenizer.json}
 * @param tokenizerSha256 its SHA-256, lower-case hex
 * @param maxLength tokens per text at most, special tokens included
 * @param inputs the graph's token inputs in order ({@code input_ids}, {@code attention_mask}[,
 *     {@code token_type_ids}])
 * @param pooling how the hidden states become one vector ({@code mean}: masked mean)
 * @param normalize whether the pooled vector is L2-normalised
 */
public record TextInput(
    Path tokenizer,
    String tokenizerSha256,
    int maxLength,
    List<String> inputs,
    String pooling,
    boolean normalize) {

  /** The ONNX metadata key that marks a text model. */
  public static final String METADATA_KEY = "graft.text";

  private static final ObjectMapper JSON = new ObjectMapper();

  public TextInput {
    inputs = List.copyOf(inputs);
  }

  /** The {@value #METADATA_KEY} value: the tokenizer named as the companion file beside it. */
  public String metadataJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("tokenizer", dev.graft.text.TextTokenizer.FILE_NAME);
    m.put("tokenizer_sha256", tokenizerSha256);
    m.put("max_length", maxLength);
    m.put("pooling", pooling);
    m.put("normalize", normalize);
    try {
      return JSON.writeValueAsString(m);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
