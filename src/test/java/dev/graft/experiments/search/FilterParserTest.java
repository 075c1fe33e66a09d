package dev.graft.experiments.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.core.GraftException;
import java.util.List;
import org.junit.jupiter.api.Test;

class FilterParserTest {

  @Test
  void precedence() {
    Filter f = FilterParser.parse("status = 'FAILED' OR NOT name = 'a' AND params.epochs > 3");
    Filter.Or or = assertInstanceOf(Filter.Or.class, f);
    assertInstanceOf(Filter.Compare.class, or.left());
    Filter.And and = assertInstanceOf(Filter.And.class, or.right());
    assertInstanceOf(Filter.Not.class, and.left());
    Filter.Compare epochs = assertInstanceOf(Filter.Compare.class, and.right());
    assertEquals(new Field.Param(List.of("epochs")), epochs.field());
    assertEquals(">", epochs.op());
    assertEquals(new Filter.Number(3), epochs.value());
  }

  @Test
  void fieldsResolveToAttributesParamsMetricsAndTestMetrics() {
    assertEquals(
        new Field.Metric("val_accuracy", Field.Aggregate.MAX),
        field("metrics.val_accuracy.max > 0"));
    assertEquals(
        new Field.Metric("val_accuracy", Field.Aggregate.LAST), field("metrics.val_accuracy > 0"));
    assertEquals(
        new Field.Metric("my-metric/x", Field.Aggregate.MIN),
        field("metrics.`my-metric/x`.min > 0"));
    assertEquals(
        new Field.Param(List.of("head", "hidden_sizes", "0")),
        field("params.head.hidden_sizes.0 = 64"));
    assertEquals(new Field.TestMetric("test_accuracy"), field("test.test_accuracy > .5"));
    assertEquals(new Field.Attribute(Field.Attr.DURATION_SECONDS), field("DURATION_SECONDS <= 60"));
  }

  @Test
  void literalsKeepTheirKind() {
    Filter.In in =
        assertInstanceOf(Filter.In.class, FilterParser.parse("params.x not in (1, -2.5e-3, .5)"));
    assertTrue(in.negated());
    assertEquals(
        List.of(new Filter.Number(1), new Filter.Number(-2.5e-3), new Filter.Number(.5)),
        in.values());
    Filter.Compare c =
        assertInstanceOf(Filter.Compare.class, FilterParser.parse("name <> 'it''s'"));
    assertEquals("!=", c.op());
    assertEquals(new Filter.Text("it's"), c.value());
    Filter.Compare t =
        assertInstanceOf(Filter.Compare.class, FilterParser.parse("created >= '2026-12-01'"));
    assertEquals(new Filter.Time(java.time.Instant.parse("2026-12-01T00:00:00Z")), t.value());
  }

  @Test
  void errorsNameTheirPosition() {
    GraftException e =
        assertThrows(
            GraftException.InvalidArgument.class,
            () -> FilterParser.parse("status = 'FAILED' AND AND"));
    assertEquals(
        "filter: at position 23: expected a field name (an attribute such as strategy, or "
            + "params.*, metrics.*, test.*)",
        e.getMessage());
    e = assertThrows(GraftException.InvalidArgument.class, () -> FilterParser.parse("x ! 1"));
    assertTrue(
        e.getMessage().startsWith("filter: at position 3: '!' must be followed by '='"),
        e.getMessage());
  }

  private static Field field(String filter) {
    return ((Filter.Compare) FilterParser.parse(filter)).field();
  }
}
