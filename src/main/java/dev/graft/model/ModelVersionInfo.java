package dev.graft.model;

import java.nio.file.Path;
import java.time.Instant;
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

  /** {@code model 'mnist' version 3}, for messages. */
  public String describe() {
    return "model '" + modelName + "' version " + version;
  }
}
