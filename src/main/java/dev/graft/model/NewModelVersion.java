package dev.graft.model;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What it takes to register a model version: the exported ONNX file (copied into the registry, so
 * the original may be deleted), its class labels in output order, its input specification, the
 * parity gate's measured difference, the provenance metadata, the run that produced it (null for
 * imports), the alias to point at it (null means {@link ModelVersions#DEFAULT_ALIAS}) and companion
 * files copied beside the model by file name (a text model's {@code tokenizer.json}).
 */
public record NewModelVersion(
    String modelName,
    Path onnxFile,
    List<String> labels,
    Map<String, Object> inputSpec,
    double parityMaxAbsDiff,
    Map<String, String> metadata,
    Long runId,
    String alias,
    Map<String, Path> companions) {

  public NewModelVersion {
    labels = labels == null ? List.of() : List.copyOf(labels);
    inputSpec = inputSpec == null ? Map.of() : Map.copyOf(inputSpec);
    metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    companions = companions == null ? Map.of() : Map.copyOf(companions);
  }

  /** A version without companion files. */
  public NewModelVersion(
      String modelName,
      Path onnxFile,
      List<String> labels,
      Map<String, Object> inputSpec,
      double parityMaxAbsDiff,
      Map<String, String> metadata,
      Long runId,
      String alias) {
    this(modelName, onnxFile, labels, inputSpec, parityMaxAbsDiff, metadata, runId, alias, null);
  }
}
