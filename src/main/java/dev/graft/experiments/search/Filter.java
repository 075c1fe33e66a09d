package dev.graft.experiments.search;

import java.time.Instant;
import java.util.List;

/** The typed syntax tree of a run filter. */
sealed interface Filter
    permits Filter.And,
        Filter.Or,
        Filter.Not,
        Filter.Compare,
        Filter.In,
        Filter.Like,
        Filter.IsNull,
        Filter.All {

  /** Matches every run (the empty filter). */
  record All() implements Filter {}

  record And(Filter left, Filter right) implements Filter {}

  record Or(Filter left, Filter right) implements Filter {}

  record Not(Filter inner) implements Filter {}

  /** {@code field op value}, op one of = != < <= > >=. */
  record Compare(Field field, String op, Literal value) implements Filter {}

  /** {@code field [NOT] IN (values)}. */
  record In(Field field, List<Literal> values, boolean negated) implements Filter {}

  /** {@code field [NOT] LIKE|ILIKE pattern}. */
  record Like(Field field, String pattern, boolean caseInsensitive, boolean negated)
      implements Filter {}

  /** {@code field IS [NOT] NULL}. */
  record IsNull(Field field, boolean negated) implements Filter {}

  /** A literal value, checked against its field's type by the parser. */
  sealed interface Literal permits Text, Number, Bool, Time {}

  record Text(String value) implements Literal {}

  record Number(double value) implements Literal {}

  record Bool(boolean value) implements Literal {}

  record Time(Instant value) implements Literal {}
}
