package dev.graft.experiments.search;

import dev.graft.experiments.search.Field.Type;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compiles a {@link Filter} and an ordering into SQL over {@code run r} joined with {@code
 * experiment e}, {@code base_model b} and {@code dataset d}. Every value is a bound parameter.
 *
 * <p>A run without a value for a field (a missing metric, a parameter of another kind) matches
 * neither a comparison nor its negation, as in SQL; {@code IS NULL} finds such runs.
 */
final class SearchCompiler {

  private static final Map<String, String> OPERATORS =
      Map.of("=", "=", "!=", "<>", "<", "<", "<=", "<=", ">", ">", ">=", ">=");

  /** Metric key → alias of its LEFT JOIN on run_metric_summary, in order of first use. */
  private final Map<String, String> metricJoins = new LinkedHashMap<>();

  /**
   * The LEFT JOINs the compiled fragments use: one per metric key, so the planner can drive a
   * metric filter from the summary's (key, value) index and sort without a subquery per run.
   */
  Sql joins() {
    Sql out = new Sql();
    metricJoins.forEach(
        (key, alias) ->
            out.sql(
                    " LEFT JOIN run_metric_summary "
                        + alias
                        + " ON "
                        + alias
                        + ".run_id = r.id"
                        + " AND "
                        + alias
                        + ".key = ")
                .param(key));
    return out;
  }

  Sql where(Filter filter) {
    Sql out = new Sql();
    if (filter instanceof Filter.All) {
      out.sql("TRUE");
    } else if (filter instanceof Filter.And a) {
      out.sql("(").append(where(a.left())).sql(" AND ").append(where(a.right())).sql(")");
    } else if (filter instanceof Filter.Or o) {
      out.sql("(").append(where(o.left())).sql(" OR ").append(where(o.right())).sql(")");
    } else if (filter instanceof Filter.Not n) {
      out.sql("(NOT ").append(where(n.inner())).sql(")");
    } else if (filter instanceof Filter.Compare c) {
      compare(out, c.field(), c.op(), c.value());
    } else if (filter instanceof Filter.In in) {
      in(out, in);
    } else if (filter instanceof Filter.Like like) {
      like(out, like);
    } else if (filter instanceof Filter.IsNull n) {
      isNull(out, n);
    }
    return out;
  }

  private void compare(Sql out, Field field, String op, Filter.Literal value) {
    String sqlOp = OPERATORS.get(op);
    if (field.type() == Type.TAGS) {
      Sql has = new Sql().param(((Filter.Text) value).value()).sql(" = ANY(e.tags)");
      out.sql(op.equals("=") ? "(" : "(NOT ").append(has).sql(")");
      return;
    }
    out.sql("(").append(value(field, value)).sql(" ").sql(sqlOp).sql(" ");
    bind(out, value);
    out.sql(")");
  }

  private void in(Sql out, Filter.In in) {
    Field field = in.field();
    out.sql(in.negated() ? "(NOT " : "(");
    if (field.type() == Type.TAGS) {
      out.sql("e.tags && ARRAY[");
      out.params(in.values().stream().map(v -> ((Filter.Text) v).value()).toList());
      out.sql("]::text[]");
    } else {
      out.append(value(field, in.values().get(0))).sql(" IN (");
      for (int i = 0; i < in.values().size(); i++) {
        if (i > 0) {
          out.sql(", ");
        }
        bind(out, in.values().get(i));
      }
      out.sql(")");
    }
    out.sql(")");
  }

  private void like(Sql out, Filter.Like like) {
    String op = like.caseInsensitive() ? " ILIKE " : " LIKE ";
    out.sql(like.negated() ? "(NOT " : "(");
    if (like.field().type() == Type.TAGS) {
      out.sql("EXISTS (SELECT 1 FROM unnest(e.tags) AS t(tag) WHERE t.tag")
          .sql(op)
          .param(like.pattern())
          .sql(")");
    } else {
      out.append(value(like.field(), new Filter.Text(""))).sql(op).param(like.pattern());
    }
    out.sql(")");
  }

  private void isNull(Sql out, Filter.IsNull n) {
    Field field = n.field();
    Sql missing = new Sql();
    if (field instanceof Field.Attribute a) {
      missing.sql(a.type() == Type.TAGS ? "cardinality(e.tags) = 0" : a.attr().column + " IS NULL");
    } else if (field instanceof Field.Param p) {
      missing
          .sql("COALESCE(jsonb_typeof(")
          .append(json("r.params", p.path()))
          .sql("), 'null') = 'null'");
    } else if (field instanceof Field.Metric m) {
      missing
          .sql(
              "NOT EXISTS (SELECT 1 FROM run_metric_summary s "
                  + "WHERE s.run_id = r.id AND s.key = ")
          .param(m.key())
          .sql(")");
    } else if (field instanceof Field.TestMetric t) {
      missing.sql("(").append(testMetric(t.key())).sql(") IS NULL");
    }
    out.sql(n.negated() ? "(NOT " : "(").append(missing).sql(")");
  }

  /** The field's value as SQL of the kind {@code literal} needs. */
  Sql value(Field field, Filter.Literal literal) {
    if (field instanceof Field.Attribute a) {
      return new Sql().sql(a.attr().column);
    }
    if (field instanceof Field.Param p) {
      if (literal instanceof Filter.Number) {
        return paramAs(p, "number", "::float8");
      }
      if (literal instanceof Filter.Bool) {
        return paramAs(p, "boolean", "::boolean");
      }
      return paramAs(p, "string", "");
    }
    if (field instanceof Field.Metric m) {
      return metric(m);
    }
    return testMetric(((Field.TestMetric) field).key());
  }

  /** The SQL expressions an ordering by {@code field} sorts on (float8 or text). */
  List<Sql> sortValues(Field field) {
    List<Sql> out = new ArrayList<>();
    if (field instanceof Field.Attribute a) {
      String c = a.attr().column;
      if (a.type() == Type.NUMBER) {
        out.add(new Sql().sql("(" + c + ")::float8"));
      } else if (a.type() == Type.TIMESTAMP) {
        out.add(new Sql().sql("EXTRACT(EPOCH FROM " + c + ")::float8"));
      } else {
        out.add(new Sql().sql(c));
      }
    } else if (field instanceof Field.Param p) {
      out.add(paramAs(p, "number", "::float8"));
      out.add(
          new Sql()
              .sql("(CASE WHEN jsonb_typeof(")
              .append(json("r.params", p.path()))
              .sql(") IN ('string', 'boolean') THEN ")
              .append(jsonText("r.params", p.path()))
              .sql(" END)"));
    } else if (field instanceof Field.Metric m) {
      out.add(metric(m));
    } else {
      out.add(testMetric(((Field.TestMetric) field).key()));
    }
    return out;
  }

  private static Sql paramAs(Field.Param p, String jsonType, String cast) {
    return new Sql()
        .sql("(CASE WHEN jsonb_typeof(")
        .append(json("r.params", p.path()))
        .sql(") = '" + jsonType + "' THEN (")
        .append(jsonText("r.params", p.path()))
        .sql(")" + cast + " END)");
  }

  private Sql metric(Field.Metric m) {
    return new Sql().sql(alias(m.key()) + "." + m.aggregate().column);
  }

  private String alias(String key) {
    return metricJoins.computeIfAbsent(key, k -> "m" + metricJoins.size());
  }

  /** A test metric: stored summaries name them test_metrics (v1) or testMetrics (before). */
  private static Sql testMetric(String key) {
    Sql value =
        new Sql()
            .sql("COALESCE(")
            .append(json("r.summary", List.of("test_metrics", key)))
            .sql(", ")
            .append(json("r.summary", List.of("testMetrics", key)))
            .sql(")");
    return new Sql()
        .sql("(CASE WHEN jsonb_typeof(")
        .append(value)
        .sql(") = 'number' THEN (")
        .append(value)
        .sql(" #>> '{}')::float8 END)");
  }

  private static Sql json(String column, List<String> path) {
    return new Sql().sql("jsonb_extract_path(" + column + ", ").params(path).sql(")");
  }

  private static Sql jsonText(String column, List<String> path) {
    return new Sql().sql("jsonb_extract_path_text(" + column + ", ").params(path).sql(")");
  }

  private static void bind(Sql out, Filter.Literal value) {
    if (value instanceof Filter.Text t) {
      out.param(t.value());
    } else if (value instanceof Filter.Number n) {
      out.param(n.value());
    } else if (value instanceof Filter.Bool b) {
      out.param(b.value());
    } else if (value instanceof Filter.Time t) {
      out.param(OffsetDateTime.ofInstant(t.value(), ZoneOffset.UTC));
    }
  }
}
