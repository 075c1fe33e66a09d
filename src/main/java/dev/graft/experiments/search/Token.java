package dev.graft.experiments.search;

/**
 * One lexical token of a filter or order-by text.
 *
 * @param kind what it is
 * @param text its text as written (for strings: the value, quotes removed)
 * @param position 1-based character position of its first character
 */
record Token(Kind kind, String text, int position) {

  enum Kind {
    IDENTIFIER,
    STRING,
    NUMBER,
    OPERATOR,
    LEFT_PAREN,
    RIGHT_PAREN,
    COMMA,
    DOT,
    END
  }

  /** Whether this is the keyword {@code word} (keywords are identifiers, any case). */
  boolean is(String word) {
    return kind == Kind.IDENTIFIER && text.equalsIgnoreCase(word);
  }

  /** How the token reads in an error message. */
  String describe() {
    return switch (kind) {
      case END -> "the end of the text";
      case STRING -> "'" + text + "'";
      default -> "'" + text + "'";
    };
  }
}
