package dev.graft.experiments.search;

import dev.graft.core.GraftException;
import dev.graft.experiments.search.Token.Kind;
import java.util.ArrayList;
import java.util.List;

/** Splits filter and order-by texts into tokens; errors name the 1-based position. */
final class Lexer {

  private final String text;
  private final String what;
  private int at;

  private Lexer(String text, String what) {
    this.text = text;
    this.what = what;
  }

  /** The tokens of {@code text}, ending with an END token; {@code what} names it in errors. */
  static List<Token> tokens(String text, String what) {
    return new Lexer(text, what).all();
  }

  private List<Token> all() {
    List<Token> out = new ArrayList<>();
    while (true) {
      while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
        at++;
      }
      if (at >= text.length()) {
        out.add(new Token(Kind.END, "", at + 1));
        return out;
      }
      out.add(next());
    }
  }

  private Token next() {
    int start = at;
    char c = text.charAt(at);
    switch (c) {
      case '(' -> {
        at++;
        return new Token(Kind.LEFT_PAREN, "(", start + 1);
      }
      case ')' -> {
        at++;
        return new Token(Kind.RIGHT_PAREN, ")", start + 1);
      }
      case ',' -> {
        at++;
        return new Token(Kind.COMMA, ",", start + 1);
      }
      case '.' -> {
        boolean afterName =
            at > 0
                && (Character.isLetterOrDigit(text.charAt(at - 1))
                    || text.charAt(at - 1) == '_'
                    || text.charAt(at - 1) == '`');
        if (!afterName && at + 1 < text.length() && Character.isDigit(text.charAt(at + 1))) {
          return number();
        }
        at++;
        return new Token(Kind.DOT, ".", start + 1);
      }
      case '\'', '"' -> {
        return string(c);
      }
      case '`' -> {
        return quotedIdentifier();
      }
      case '=', '<', '>', '!' -> {
        return operator();
      }
      default -> {
        if (Character.isDigit(c)
            || (c == '-'
                && at + 1 < text.length()
                && (Character.isDigit(text.charAt(at + 1)) || text.charAt(at + 1) == '.'))) {
          return number();
        }
        if (Character.isLetter(c) || c == '_') {
          while (at < text.length()
              && (Character.isLetterOrDigit(text.charAt(at)) || text.charAt(at) == '_')) {
            at++;
          }
          return new Token(Kind.IDENTIFIER, text.substring(start, at), start + 1);
        }
        throw error(start, "unexpected character '" + c + "'");
      }
    }
  }

  private Token operator() {
    int start = at;
    char c = text.charAt(at++);
    char n = at < text.length() ? text.charAt(at) : 0;
    String op;
    if (c == '=') {
      op = n == '=' ? "==" : "=";
    } else if (c == '!') {
      if (n != '=') {
        throw error(start, "'!' must be followed by '=' (use NOT for negation)");
      }
      op = "!=";
    } else if (c == '<') {
      op = n == '=' ? "<=" : n == '>' ? "<>" : "<";
    } else {
      op = n == '=' ? ">=" : ">";
    }
    at = start + op.length();
    return new Token(Kind.OPERATOR, op.equals("==") ? "=" : op.equals("<>") ? "!=" : op, start + 1);
  }

  private Token number() {
    int start = at;
    if (text.charAt(at) == '-') {
      at++;
    }
    while (at < text.length() && Character.isDigit(text.charAt(at))) {
      at++;
    }
    if (at < text.length() && text.charAt(at) == '.') {
      at++;
      while (at < text.length() && Character.isDigit(text.charAt(at))) {
        at++;
      }
    }
    if (at < text.length() && (text.charAt(at) == 'e' || text.charAt(at) == 'E')) {
      int mark = at++;
      if (at < text.length() && (text.charAt(at) == '+' || text.charAt(at) == '-')) {
        at++;
      }
      if (at >= text.length() || !Character.isDigit(text.charAt(at))) {
        throw error(mark, "a number's exponent needs digits, as in 1e-3");
      }
      while (at < text.length() && Character.isDigit(text.charAt(at))) {
        at++;
      }
    }
    if (at < text.length() && (Character.isLetter(text.charAt(at)) || text.charAt(at) == '_')) {
      throw error(at, "a number must not run into letters");
    }
    return new Token(Kind.NUMBER, text.substring(start, at), start + 1);
  }

  /** 'it''s' or "say ""hi""": the quote is escaped by doubling it. */
  private Token string(char quote) {
    int start = at++;
    StringBuilder value = new StringBuilder();
    while (true) {
      if (at >= text.length()) {
        throw error(start, "unterminated string: close it with " + quote);
      }
      char c = text.charAt(at++);
      if (c == quote) {
        if (at < text.length() && text.charAt(at) == quote) {
          value.append(quote);
          at++;
          continue;
        }
        return new Token(Kind.STRING, value.toString(), start + 1);
      }
      value.append(c);
    }
  }

  /** `a key with any characters`, for metric and parameter names outside [A-Za-z0-9_]. */
  private Token quotedIdentifier() {
    int start = at++;
    int close = text.indexOf('`', at);
    if (close < 0) {
      throw error(start, "unterminated name: close it with `");
    }
    String name = text.substring(at, close);
    if (name.isEmpty()) {
      throw error(start, "a quoted name must not be empty");
    }
    at = close + 1;
    return new Token(Kind.IDENTIFIER, name, start + 1);
  }

  private GraftException.InvalidArgument error(int index, String message) {
    return SearchErrors.at(what, index + 1, message);
  }
}
