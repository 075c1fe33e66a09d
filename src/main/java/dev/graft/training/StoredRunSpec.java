package dev.graft.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.graft.core.GraftException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The storage form of a {@link RunSpec} in the run's {@code config} JSONB: {@code {"v":1,...}} with
 * snake_case keys named like the public API's fields, written and read here field by field, so that
 * renaming a Java field never changes what is stored.
 *
 * <p>Reading is lenient: documents of older versions are upgraded step by step (version 0, the
 * record serialised by a default ObjectMapper, had the Java field names in camelCase), unknown
 * fields are ignored, missing ones take the value an unset request field would have and then the
 * defaults of {@link RunSpec#withDefaults()}, and enum values are matched ignoring case. A future
 * rename of a field or an enum value is one more {@link #UPGRADES} step.
 */
final class StoredRunSpec {

  /** The version {@link #write} produces. */
  static final int VERSION = 1;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Step {@code i} turns a version-{@code i} document into a version-{@code i+1} one. */
  private static final List<java.util.function.UnaryOperator<ObjectNode>> UPGRADES =
      List.of(StoredRunSpec::camelToSnake);

  private StoredRunSpec() {}

  static Map<String, Object> write(RunSpec s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("v", VERSION);
    m.put("experiment_id", s.experimentId());
    m.put("name", s.name());
    m.put("base_model", s.baseModel());
    m.put("architecture", s.architecture());
    m.put("dataset", s.dataset());
    m.put("strategy", s.strategy().name());
    m.put("train_last_blocks", s.trainLastBlocks());
    m.put("train_patterns", List.copyOf(s.trainPatterns()));
    Map<String, Object> head = new LinkedHashMap<>();
    head.put("hidden_sizes", List.copyOf(s.head().hiddenSizes()));
    head.put("activation", s.head().activation());
    head.put("dropout", (double) s.head().dropout());
    head.put("normalize_embedding", s.head().normalizeEmbedding());
    m.put("head", head);
    RunSpec.Hyper h = s.hyper();
    Map<String, Object> hyper = new LinkedHashMap<>();
    hyper.put("optimizer", h.optimizer());
    hyper.put("learning_rate", h.learningRate());
    hyper.put("backbone_lr_multiplier", h.backboneLrMultiplier());
    hyper.put("weight_decay", h.weightDecay());
    hyper.put("momentum", h.momentum());
    hyper.put("schedule", h.schedule());
    hyper.put("warmup_epochs", h.warmupEpochs());
    hyper.put("step_epochs", h.stepEpochs());
    hyper.put("step_gamma", h.stepGamma());
    hyper.put("batch_size", h.batchSize());
    hyper.put("epochs", h.epochs());
    hyper.put("head_epochs", h.headEpochs());
    RunSpec.EarlyStop es = h.earlyStopping();
    Map<String, Object> early = new LinkedHashMap<>();
    early.put("enabled", es.enabled());
    early.put("metric", es.metric());
    early.put("patience", es.patience());
    early.put("min_delta", es.minDelta());
    early.put("restore_best", es.restoreBest());
    hyper.put("early_stopping", early);
    hyper.put("augment_random_crop", h.augmentRandomCrop());
    hyper.put("augment_horizontal_flip", h.augmentHorizontalFlip());
    hyper.put("class_weighting", h.classWeighting());
    hyper.put("max_sequence_length", h.maxSequenceLength());
    m.put("hyper_parameters", hyper);
    Map<String, Object> split = new LinkedHashMap<>();
    split.put("validation_fraction", s.split().validationFraction());
    split.put("test_fraction", s.split().testFraction());
    split.put("max_train_examples", s.split().maxTrainExamples());
    m.put("split", split);
    m.put("seed", s.seed());
    m.put("device", s.device());
    m.put("model_name", s.modelName());
    m.put("cut_point", s.cutPoint());
    return m;
  }

  /** The spec a stored document of any version describes, completed with today's defaults. */
  static RunSpec read(long runId, Map<String, Object> stored) {
    ObjectNode doc = JSON.valueToTree(stored == null ? Map.of() : stored);
    int version = doc.path("v").asInt(0);
    if (version > VERSION) {
      throw new GraftException.FailedPrecondition(
          "run "
              + runId
              + " was stored by a newer Graft (configuration version "
              + version
              + ", this one reads up to "
              + VERSION
              + "); upgrade the service");
    }
    for (int v = version; v < VERSION; v++) {
      doc = UPGRADES.get(v).apply(doc);
    }
    JsonNode head = doc.path("head");
    JsonNode h = doc.path("hyper_parameters");
    JsonNode es = h.path("early_stopping");
    JsonNode split = doc.path("split");
    RunSpec spec =
        new RunSpec(
            doc.path("experiment_id").asLong(),
            text(doc, "name"),
            text(doc, "base_model"),
            text(doc, "architecture"),
            text(doc, "dataset"),
            strategy(runId, text(doc, "strategy")),
            doc.path("train_last_blocks").asInt(),
            strings(doc.path("train_patterns")),
            new RunSpec.Head(
                ints(head.path("hidden_sizes")),
                text(head, "activation"),
                (float) head.path("dropout").asDouble(),
                head.path("normalize_embedding").asBoolean()),
            new RunSpec.Hyper(
                text(h, "optimizer").toUpperCase(Locale.ROOT),
                h.path("learning_rate").asDouble(),
                h.path("backbone_lr_multiplier").asDouble(),
                h.path("weight_decay").asDouble(),
                h.path("momentum").asDouble(),
                text(h, "schedule").toUpperCase(Locale.ROOT),
                h.path("warmup_epochs").asInt(),
                h.path("step_epochs").asInt(),
                h.path("step_gamma").asDouble(),
                h.path("batch_size").asInt(),
                h.path("epochs").asInt(),
                h.path("head_epochs").asInt(),
                new RunSpec.EarlyStop(
                    es.path("enabled").asBoolean(),
                    text(es, "metric").toLowerCase(Locale.ROOT),
                    es.path("patience").asInt(),
                    es.path("min_delta").asDouble(),
                    es.path("restore_best").asBoolean()),
                h.path("augment_random_crop").asBoolean(),
                h.path("augment_horizontal_flip").asBoolean(),
                h.path("class_weighting").asBoolean(),
                h.path("max_sequence_length").asInt()),
            new RunSpec.Split(
                split.path("validation_fraction").asDouble(),
                split.path("test_fraction").asDouble(),
                split.path("max_train_examples").asInt()),
            doc.path("seed").asLong(),
            text(doc, "device").toUpperCase(Locale.ROOT),
            text(doc, "model_name"),
            text(doc, "cut_point"));
    return spec.withDefaults();
  }

  private static Strategy strategy(long runId, String name) {
    for (Strategy s : Strategy.values()) {
      if (s.name().equalsIgnoreCase(name)) {
        return s;
      }
    }
    throw new GraftException.FailedPrecondition(
        "run "
            + runId
            + " has a stored strategy '"
            + name
            + "' this version of Graft does not know");
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.path(field);
    return v.isValueNode() && !v.isNull() ? v.asText() : "";
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static List<Integer> ints(JsonNode array) {
    List<Integer> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asInt()));
    return out;
  }

  /**
   * Version 0 to 1: the record's camelCase field names become the API's snake_case ones, and {@code
   * hyper} becomes {@code hyper_parameters}.
   */
  private static ObjectNode camelToSnake(ObjectNode v0) {
    ObjectNode v1 = (ObjectNode) snake(v0);
    JsonNode hyper = v1.remove("hyper");
    if (hyper != null && !v1.has("hyper_parameters")) {
      v1.set("hyper_parameters", hyper);
    }
    v1.put("v", 1);
    return v1;
  }

  private static JsonNode snake(JsonNode node) {
    if (!node.isObject()) {
      return node;
    }
    ObjectNode out = JSON.createObjectNode();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      out.set(
          e.getKey().replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT),
          snake(e.getValue()));
    }
    return out;
  }
}
