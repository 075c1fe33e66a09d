package dev.graft.experiments.search;

import java.util.ArrayList;
import java.util.List;

/** SQL text with its positional parameters: values are only ever bound, never written in. */
final class Sql {

  private final StringBuilder text = new StringBuilder();
  private final List<Object> params = new ArrayList<>();

  Sql sql(String fragment) {
    text.append(fragment);
    return this;
  }

  /** Appends a placeholder bound to {@code value}. */
  Sql param(Object value) {
    text.append('?');
    params.add(value);
    return this;
  }

  /** Appends {@code ?, ?, ...} for each value. */
  Sql params(List<?> values) {
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        text.append(", ");
      }
      param(values.get(i));
    }
    return this;
  }

  Sql append(Sql other) {
    text.append(other.text);
    params.addAll(other.params);
    return this;
  }

  String text() {
    return text.toString();
  }

  List<Object> parameters() {
    return List.copyOf(params);
  }

  boolean isEmpty() {
    return text.isEmpty();
  }
}
