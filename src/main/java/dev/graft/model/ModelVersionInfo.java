package dev.graft.model;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A registered model version as the rest of Graft sees it (no JPA entity leaks out). */
public record ModelVersionInfo(
    long id,
    String modelName,
    int version,
    Long runId,
    Path onnxPath,
    String sha256,
    long sizeBytes,
    Map<String, Object> inputSpec,
    List<String> labels,
    double parityMaxAbsDiff,
    Map<String, String> metadata,
    List<String> aliases,
    Instant createdAt) {

  public ModelVersionInfo {
    inputSpec = Map.copyOf(inputSpec);
    labels = List.copyOf(labels);
    metadata = Map.copyOf(metadata);
    aliases = List.copyOf(aliases);
  }

  /** The file name of the ONNX file in the version's directory. */
  public static final String ONNX_FILE = "model.onnx";

  /**
   * Metadata key under which registration records the companion files: a JSON object of file name
   * to SHA-256 (hex), e.g. {@code {"tokenizer.json":"ab12..."}}.
   */
  public static final String COMPANIONS_METADATA_KEY = "graft.companions";

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Companion files (name → SHA-256), in name order; empty when the version has none. */
  public Map<String, String> companions() {
    String json = metadata.get(COMPANIONS_METADATA_KEY);
    if (json == null) {
      return Map.of();
    }
    try {
      return new LinkedHashMap<>(
          new java.util.TreeMap<>(
              JSON.readValue(json, new TypeReference<Map<String, String>>() {})));
    } catch (Exception e) {
      return Map.of();
    }
  }

  /** Where a companion file of this version lies: beside its ONNX file. */
  public Path companionPath(String fileName) {
    return onnxPath.toAbsolutePath().getParent().resolve(fileName);
  }

  /** {@code model 'mnist' version 3}, for messages. */
  public String describe() {
    return "model '" + modelName + "' version " + version;
  }
}
