package dev.graft.experiments.search;

import dev.graft.core.GraftException;
import dev.graft.experiments.search.Field.Type;
import dev.graft.experiments.search.Token.Kind;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Parses the run filter language into a typed {@link Filter}.
 *
 * <pre>
 * filter    := or
 * or        := and ( OR and )*
 * and       := unary ( AND unary )*
 * unary     := NOT unary | '(' or ')' | predicate
 * predicate := field ( op literal | [NOT] IN '(' literal (',' literal)* ')'
 *                    | [NOT] (LIKE | ILIKE) string | IS [NOT] NULL )
 * field     := attribute | params.name(.name)* | metrics.key[.last|.min|.max] | test.key
 * op        := = | != | &lt;&gt; | &lt; | &lt;= | &gt; | &gt;=
 * literal   := 'text' | "text" | number | TRUE | FALSE
 * </pre>
 *
 * Keywords are case-insensitive; names outside [A-Za-z0-9_] are quoted with backticks.
 */
public final class FilterParser {

  static final String FILTER = "filter";
  private static final Set<String> AGGREGATES = Set.of("last", "min", "max");
  private static final Set<String> KEYWORDS =
      Set.of("and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false");

  private final List<Token> tokens;
  private final String what;
  private int at;

  private FilterParser(String text, String what) {
    this.tokens = Lexer.tokens(text, what);
    this.what = what;
  }

  /** The filter of {@code text}; blank text matches every run. */
  static Filter parse(String text) {
    if (text == null || text.isBlank()) {
      return new Filter.All();
    }
    FilterParser p = new FilterParser(text, FILTER);
    Filter f = p.or();
    if (p.peek().kind() != Kind.END) {
      throw p.error(
          p.peek(), "expected AND, OR or the end of the filter, found " + p.peek().describe());
    }
    return f;
  }

  /** One order-by key: {@code field [ASC|DESC]}. */
  static OrderKey parseOrder(String text) {
    FilterParser p = new FilterParser(text, "order_by '" + text + "'");
    if (p.peek().kind() == Kind.END) {
      throw p.error(p.peek(), "expected a field to order by");
    }
    Field field = p.field();
    boolean descending = false;
    Token t = p.peek();
    if (t.is("asc") || t.is("desc")) {
      descending = t.is("desc");
      p.at++;
    }
    if (p.peek().kind() != Kind.END) {
      throw p.error(p.peek(), "expected ASC, DESC or the end of the key");
    }
    if (field.type() == Type.TAGS) {
      throw p.error(t, "tags cannot be ordered by");
    }
    return new OrderKey(field, descending);
  }

  private Filter or() {
    Filter left = and();
    while (peek().is("or")) {
      at++;
      left = new Filter.Or(left, and());
    }
    return left;
  }

  private Filter and() {
    Filter left = unary();
    while (peek().is("and")) {
      at++;
      left = new Filter.And(left, unary());
    }
    return left;
  }

  private Filter unary() {
    Token t = peek();
    if (t.is("not")) {
      at++;
      return new Filter.Not(unary());
    }
    if (t.kind() == Kind.LEFT_PAREN) {
      at++;
      Filter inner = or();
      expect(Kind.RIGHT_PAREN, "expected ')' to close the '(' at position " + t.position());
      return inner;
    }
    return predicate();
  }

  private Filter predicate() {
    Token start = peek();
    Field field = field();
    Token t = peek();
    if (t.kind() == Kind.OPERATOR) {
      at++;
      Literal value = literal(field, t.text());
      return new Filter.Compare(field, t.text(), value.value);
    }
    boolean negated = false;
    if (t.is("not")) {
      negated = true;
      at++;
      t = peek();
      if (!t.is("in") && !t.is("like") && !t.is("ilike")) {
        throw error(t, "expected IN, LIKE or ILIKE after NOT");
      }
    }
    if (t.is("in")) {
      at++;
      expect(Kind.LEFT_PAREN, "expected '(' to open the IN list");
      List<Filter.Literal> values = new ArrayList<>();
      Class<?> kind = null;
      do {
        Literal v = literal(field, "IN");
        if (kind != null && kind != v.value.getClass()) {
          throw error(v.token, "every value of an IN list must be of the same kind");
        }
        kind = v.value.getClass();
        values.add(v.value);
      } while (accept(Kind.COMMA));
      expect(Kind.RIGHT_PAREN, "expected ',' or ')' in the IN list");
      return new Filter.In(field, values, negated);
    }
    if (t.is("like") || t.is("ilike")) {
      at++;
      if (field.type() == Type.NUMBER || field.type() == Type.TIMESTAMP) {
        throw error(t, field.name() + " is a " + describe(field.type()) + ": LIKE needs text");
      }
      Token pattern = next();
      if (pattern.kind() != Kind.STRING) {
        throw error(
            pattern,
            "expected a quoted pattern after "
                + t.text().toUpperCase(Locale.ROOT)
                + ", as in 'mnist%'");
      }
      return new Filter.Like(field, pattern.text(), t.is("ilike"), negated);
    }
    if (t.is("is")) {
      at++;
      boolean not = false;
      if (peek().is("not")) {
        not = true;
        at++;
      }
      Token n = next();
      if (!n.is("null")) {
        throw error(n, "expected NULL after IS" + (not ? " NOT" : ""));
      }
      return new Filter.IsNull(field, not);
    }
    throw error(
        t,
        "expected an operator (= != < <= > >=), IN, NOT IN, LIKE, ILIKE or IS [NOT] NULL after "
            + field.name()
            + " (at position "
            + start.position()
            + ")");
  }

  private Field field() {
    Token first = next();
    if (first.kind() != Kind.IDENTIFIER || KEYWORDS.contains(lower(first.text()))) {
      throw error(
          first,
          "expected a field name (an attribute such as strategy, or params.*, "
              + "metrics.*, test.*)");
    }
    List<String> rest = new ArrayList<>();
    while (peek().kind() == Kind.DOT) {
      at++;
      Token part = next();
      if (part.kind() != Kind.IDENTIFIER && part.kind() != Kind.NUMBER) {
        throw error(part, "expected a name after '.'");
      }
      rest.add(part.text());
    }
    String head = lower(first.text());
    switch (head) {
      case "params" -> {
        if (rest.isEmpty()) {
          throw error(first, "name a configuration value, as in params.learning_rate");
        }
        return new Field.Param(List.copyOf(rest));
      }
      case "metrics" -> {
        if (rest.isEmpty()) {
          throw error(first, "name a metric, as in metrics.val_accuracy or metrics.val_loss.min");
        }
        String last = lower(rest.get(rest.size() - 1));
        if (rest.size() > 1 && AGGREGATES.contains(last)) {
          String key = String.join(".", rest.subList(0, rest.size() - 1));
          return new Field.Metric(key, Field.Aggregate.valueOf(last.toUpperCase(Locale.ROOT)));
        }
        return new Field.Metric(String.join(".", rest), Field.Aggregate.LAST);
      }
      case "test" -> {
        if (rest.isEmpty()) {
          throw error(first, "name a test metric, as in test.test_accuracy");
        }
        return new Field.TestMetric(String.join(".", rest));
      }
      default -> {
        Field.Attr attr = Field.Attr.byLabel(first.text());
        if (attr == null) {
          throw error(
              first,
              "unknown field '"
                  + first.text()
                  + "': use one of "
                  + Field.Attr.labels()
                  + ", or params.*, metrics.*, test.*");
        }
        if (!rest.isEmpty()) {
          throw error(first, first.text() + " has no parts: remove '." + rest.get(0) + "'");
        }
        return new Field.Attribute(attr);
      }
    }
  }

  /** A literal together with its token, for messages. */
  private record Literal(Filter.Literal value, Token token) {}

  private Literal literal(Field field, String after) {
    Token t = next();
    Filter.Literal value =
        switch (t.kind()) {
          case STRING -> new Filter.Text(t.text());
          case NUMBER -> new Filter.Number(number(t));
          case IDENTIFIER -> {
            if (t.is("true") || t.is("false")) {
              yield new Filter.Bool(t.is("true"));
            }
            throw error(
                t, "expected a value after " + after + ": quote text, as in '" + t.text() + "'");
          }
          default -> throw error(t, "expected a value after " + after + ", found " + t.describe());
        };
    return new Literal(check(field, after, value, t), t);
  }

  private Filter.Literal check(Field field, String op, Filter.Literal value, Token t) {
    boolean ordering = op.startsWith("<") || op.startsWith(">");
    switch (field.type()) {
      case NUMBER -> {
        if (!(value instanceof Filter.Number)) {
          throw error(t, field.name() + " is a number: expected a number, as in 0.9");
        }
      }
      case TEXT -> {
        if (!(value instanceof Filter.Text text)) {
          throw error(t, field.name() + " is text: expected a quoted string");
        }
        Field.Attr attr = ((Field.Attribute) field).attr();
        if (!attr.values.isEmpty()) {
          String canonical = text.value().toUpperCase(Locale.ROOT);
          if (!attr.values.contains(canonical)) {
            throw error(
                t,
                "'"
                    + text.value()
                    + "' is not a "
                    + attr.label
                    + ": use one of "
                    + String.join(", ", attr.values.stream().sorted().toList()));
          }
          return new Filter.Text(canonical);
        }
      }
      case TIMESTAMP -> {
        if (!(value instanceof Filter.Text text)) {
          throw error(
              t,
              field.name()
                  + " is a timestamp: expected a quoted date or time, as in "
                  + "'2026-12-01' or '2026-12-01T10:00:00Z'");
        }
        return new Filter.Time(instant(text.value(), t));
      }
      case TAGS -> {
        if (!(value instanceof Filter.Text)) {
          throw error(t, "tags are text: expected a quoted tag");
        }
        if (ordering) {
          throw error(t, "tags can be compared with =, !=, IN and LIKE only");
        }
      }
      case DYNAMIC -> {
        if (ordering && value instanceof Filter.Bool) {
          throw error(t, "true and false cannot be ordered: use = or !=");
        }
      }
    }
    return value;
  }

  private Instant instant(String text, Token t) {
    try {
      if (text.length() == 10) {
        return LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant();
      }
      try {
        return OffsetDateTime.parse(text).toInstant();
      } catch (DateTimeParseException e) {
        return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC);
      }
    } catch (DateTimeParseException e) {
      throw error(
          t,
          "'"
              + text
              + "' is not a date or time: use ISO 8601, as in '2026-12-01' "
              + "or '2026-12-01T10:00:00Z' (UTC unless an offset is given)");
    }
  }

  private double number(Token t) {
    try {
      double v = Double.parseDouble(t.text());
      if (Double.isInfinite(v)) {
        throw error(t, "number " + t.text() + " is out of range");
      }
      return v;
    } catch (NumberFormatException e) {
      throw error(t, "'" + t.text() + "' is not a number");
    }
  }

  private static String describe(Type type) {
    return type == Type.NUMBER ? "number" : "timestamp";
  }

  private static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }

  private Token peek() {
    return tokens.get(at);
  }

  private Token next() {
    Token t = tokens.get(at);
    if (t.kind() != Kind.END) {
      at++;
    }
    return t;
  }

  private boolean accept(Kind kind) {
    if (peek().kind() == kind) {
      at++;
      return true;
    }
    return false;
  }

  private void expect(Kind kind, String message) {
    Token t = next();
    if (t.kind() != kind) {
      throw error(t, message + ", found " + t.describe());
    }
  }

  private GraftException.InvalidArgument error(Token t, String message) {
    return SearchErrors.at(what, t.position(), message);
  }
}
