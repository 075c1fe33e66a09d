package dev.graft.experiments.search;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/** Something of a run a filter compares or an ordering sorts by. */
sealed interface Field permits Field.Attribute, Field.Param, Field.Metric, Field.TestMetric {

  /** Kinds of values; a literal must fit the field's kind. */
  enum Type {
    TEXT,
    NUMBER,
    TIMESTAMP,
    TAGS,
    /** Any JSON value: the literal decides how it is compared. */
    DYNAMIC
  }

  Type type();

  /** How it reads in messages. */
  String name();

  /** A run attribute: a column of the run or of what it references. */
  record Attribute(Attr attr) implements Field {
    @Override
    public Type type() {
      return attr.type;
    }

    @Override
    public String name() {
      return attr.label;
    }
  }

  /** A configuration value: {@code params.a.b} is the run's stored configuration at a/b. */
  record Param(List<String> path) implements Field {
    @Override
    public Type type() {
      return Type.DYNAMIC;
    }

    @Override
    public String name() {
      return "params." + String.join(".", path);
    }
  }

  /** Per-epoch metric: its last, smallest or largest value. */
  record Metric(String key, Aggregate aggregate) implements Field {
    @Override
    public Type type() {
      return Type.NUMBER;
    }

    @Override
    public String name() {
      return "metrics." + key + "." + aggregate.name().toLowerCase(Locale.ROOT);
    }
  }

  /** A metric measured once on the test split at the end of the run. */
  record TestMetric(String key) implements Field {
    @Override
    public Type type() {
      return Type.NUMBER;
    }

    @Override
    public String name() {
      return "test." + key;
    }
  }

  /** Which value of a metric's history. */
  enum Aggregate {
    LAST("last_value"),
    MIN("min_value"),
    MAX("max_value");

    final String column;

    Aggregate(String column) {
      this.column = column;
    }
  }

  /** The run attributes, by the names the language uses. */
  enum Attr {
    ID("id", Type.NUMBER, "r.id"),
    NAME("name", Type.TEXT, "r.name"),
    STRATEGY(
        "strategy",
        Type.TEXT,
        "r.strategy",
        Set.of("TRANSFER_LEARNING", "FINE_TUNING", "GRADUAL", "FROM_SCRATCH", "PRETRAINING")),
    STATUS(
        "status",
        Type.TEXT,
        "r.status",
        Set.of("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED")),
    BASE_MODEL("base_model", Type.TEXT, "b.name"),
    DATASET("dataset", Type.TEXT, "d.name"),
    DEVICE("device", Type.TEXT, "r.device"),
    EXPERIMENT("experiment", Type.TEXT, "e.name"),
    EXPERIMENT_ID("experiment_id", Type.NUMBER, "r.experiment_id"),
    PARENT_RUN_ID("parent_run_id", Type.NUMBER, "r.parent_run_id"),
    SEED("seed", Type.NUMBER, "r.seed"),
    SPLIT_HASH("split_hash", Type.TEXT, "r.split_hash"),
    CREATED("created", Type.TIMESTAMP, "r.created_at"),
    STARTED("started", Type.TIMESTAMP, "r.started_at"),
    FINISHED("finished", Type.TIMESTAMP, "r.finished_at"),
    DURATION_SECONDS(
        "duration_seconds",
        Type.NUMBER,
        "EXTRACT(EPOCH FROM (r.finished_at - r.started_at))::float8"),
    TRAINABLE_PARAMETERS("trainable_parameters", Type.NUMBER, "r.trainable_params"),
    TOTAL_PARAMETERS("total_parameters", Type.NUMBER, "r.total_params"),
    PEAK_MEMORY_BYTES("peak_memory_bytes", Type.NUMBER, "r.peak_memory_bytes"),
    TAGS("tags", Type.TAGS, "e.tags");

    final String label;
    final Type type;
    final String column;

    /** The values a TEXT attribute can take, or empty when any text. */
    final Set<String> values;

    Attr(String label, Type type, String column) {
      this(label, type, column, Set.of());
    }

    Attr(String label, Type type, String column, Set<String> values) {
      this.label = label;
      this.type = type;
      this.column = column;
      this.values = values;
    }

    static Attr byLabel(String label) {
      for (Attr a : values()) {
        if (a.label.equalsIgnoreCase(label)) {
          return a;
        }
      }
      return null;
    }

    static String labels() {
      StringBuilder out = new StringBuilder();
      for (Attr a : values()) {
        out.append(out.isEmpty() ? "" : ", ").append(a.label);
      }
      return out.toString();
    }
  }
}
