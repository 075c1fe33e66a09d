package dev.graft.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a run produced, stored in the run's {@code summary} JSONB as {@code {"v":1,...}}: labels and
 * feature-cache use once it starts, test results once it is tested, the model version once it is
 * published. Read leniently, like {@link StoredRunSpec}: unknown keys are ignored, missing ones are
 * empty, and the unversioned form written before (the same keys) reads as it is.
 *
 * @param featureCache whether the head trained on cached backbone features
 * @param labels class labels in output order
 * @param testMetrics test_loss, test_accuracy, test_macro_f1
 * @param confusionMatrix row-major, true class by predicted class
 * @param testExamples examples the test metrics are over
 * @param modelVersion {@code name:version} of the published model, empty before
 * @param onnxSha256 sha256 of the published ONNX file
 * @param parityMaxAbsDiff the parity gate's largest DJL-vs-ONNX-Runtime difference
 */
public record RunSummary(
    boolean featureCache,
    List<String> labels,
    Map<String, Double> testMetrics,
    List<Long> confusionMatrix,
    long testExamples,
    String modelVersion,
    String onnxSha256,
    double parityMaxAbsDiff) {

  static final int VERSION = 1;
  static final RunSummary EMPTY =
      new RunSummary(false, List.of(), Map.of(), List.of(), 0, "", "", 0);

  private static final ObjectMapper JSON = new ObjectMapper();

  public RunSummary {
    labels = List.copyOf(labels);
    testMetrics = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(testMetrics));
    confusionMatrix = List.copyOf(confusionMatrix);
  }

  RunSummary started(boolean cache, List<String> runLabels) {
    return new RunSummary(
        cache,
        runLabels,
        testMetrics,
        confusionMatrix,
        testExamples,
        modelVersion,
        onnxSha256,
        parityMaxAbsDiff);
  }

  RunSummary tested(Map<String, Double> metrics, List<Long> confusion, long examples) {
    return new RunSummary(
        featureCache,
        labels,
        metrics,
        confusion,
        examples,
        modelVersion,
        onnxSha256,
        parityMaxAbsDiff);
  }

  RunSummary published(String version, String sha256, double parity) {
    return new RunSummary(
        featureCache, labels, testMetrics, confusionMatrix, testExamples, version, sha256, parity);
  }

  Map<String, Object> toStored() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("v", VERSION);
    m.put("feature_cache", featureCache);
    m.put("labels", labels);
    // Keys in a fixed order, so the stored document does not depend on a map's iteration order.
    Map<String, Double> metrics = new LinkedHashMap<>();
    testMetrics.keySet().stream().sorted().forEach(k -> metrics.put(k, testMetrics.get(k)));
    m.put("test_metrics", metrics);
    m.put("confusion_matrix", confusionMatrix);
    m.put("test_examples", testExamples);
    m.put("model_version", modelVersion);
    m.put("onnx_sha256", onnxSha256);
    m.put("parity_max_abs_diff", parityMaxAbsDiff);
    return m;
  }

  static RunSummary fromStored(Map<String, Object> stored) {
    JsonNode doc = JSON.valueToTree(stored == null ? Map.of() : stored);
    // Version 0 (no "v") had the camelCase names of the map TrainingJob filled.
    boolean v0 = doc.path("v").asInt(0) == 0;
    JsonNode metricsNode = doc.path(v0 ? "testMetrics" : "test_metrics");
    Map<String, Double> metrics = new LinkedHashMap<>();
    metricsNode.fields().forEachRemaining(e -> metrics.put(e.getKey(), e.getValue().asDouble()));
    List<String> labels = new ArrayList<>();
    doc.path("labels").forEach(n -> labels.add(n.asText()));
    List<Long> confusion = new ArrayList<>();
    doc.path(v0 ? "confusionMatrix" : "confusion_matrix").forEach(n -> confusion.add(n.asLong()));
    return new RunSummary(
        doc.path(v0 ? "featureCache" : "feature_cache").asBoolean(),
        labels,
        metrics,
        confusion,
        doc.path(v0 ? "testExamples" : "test_examples").asLong(),
        doc.path(v0 ? "modelVersion" : "model_version").asText(""),
        doc.path(v0 ? "onnxSha256" : "onnx_sha256").asText(""),
        doc.path(v0 ? "parityMaxAbsDiff" : "parity_max_abs_diff").asDouble());
  }
}
