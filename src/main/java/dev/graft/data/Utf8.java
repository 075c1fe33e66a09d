package dev.graft.data;

import dev.graft.core.GraftException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Strict UTF-8 for imported text: a byte sequence that is not UTF-8 is an INVALID_ARGUMENT naming
 * the file, the line and the byte offset, never a silent U+FFFD. A leading byte order mark is
 * dropped.
 */
final class Utf8 {

  private static final char BOM = '\uFEFF';

  private Utf8() {}

  private static CharsetDecoder decoder() {
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
  }

  /** Decodes a whole file's bytes; {@code what} names it in the error. */
  static String decode(byte[] bytes, String what) {
    try {
      String text = decoder().decode(ByteBuffer.wrap(bytes)).toString();
      return !text.isEmpty() && text.charAt(0) == BOM ? text.substring(1) : text;
    } catch (CharacterCodingException e) {
      throw invalid(what, locate(bytes));
    }
  }

  /**
   * A strict reader of a file (byte order mark skipped); its errors are MalformedInputException.
   */
  static BufferedReader reader(Path file) throws IOException {
    BufferedReader in =
        new BufferedReader(new InputStreamReader(Files.newInputStream(file), decoder()));
    in.mark(1);
    if (in.read() != BOM) {
      in.reset();
    }
    return in;
  }

  /** Whether a failure was caused by bytes that are not UTF-8. */
  static boolean isMalformed(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof MalformedInputException) {
        return true;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return false;
  }

  /** The INVALID_ARGUMENT for a file that is not UTF-8, with the place of its first bad byte. */
  static GraftException invalidFile(Path file, String what) {
    try (InputStream in = Files.newInputStream(file)) {
      return invalid(what, locate(in));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static GraftException invalid(String what, Position at) {
    return new GraftException.InvalidArgument(
        what
            + " is not valid UTF-8: byte 0x"
            + String.format("%02x", at.value)
            + " at offset "
            + at.offset
            + " (line "
            + at.line
            + "); save it as UTF-8");
  }

  private record Position(long offset, long line, int value) {}

  private static Position locate(byte[] bytes) {
    try {
      return locate(new java.io.ByteArrayInputStream(bytes));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Streams through the bytes until the first malformed sequence, counting lines. */
  private static Position locate(InputStream in) throws IOException {
    CharsetDecoder decoder = decoder();
    ByteBuffer bytes = ByteBuffer.allocate(1 << 16);
    CharBuffer chars = CharBuffer.allocate(1 << 16);
    long consumed = 0; // bytes before bytes.position() 0
    long line = 1;
    boolean eof = false;
    while (true) {
      if (!eof) {
        int n = in.read(bytes.array(), bytes.position(), bytes.remaining());
        if (n < 0) {
          eof = true;
        } else {
          bytes.position(bytes.position() + n);
        }
      }
      bytes.flip();
      int start = bytes.position();
      CoderResult result = decoder.decode(bytes, chars, eof);
      for (int i = start; i < bytes.position(); i++) {
        if (bytes.get(i) == '\n') {
          line++;
        }
      }
      if (result.isError()) {
        long offset = consumed + bytes.position();
        return new Position(offset, line, bytes.get(bytes.position()) & 0xff);
      }
      chars.clear();
      consumed += bytes.position();
      bytes.compact();
      if (eof && bytes.position() == 0) {
        throw new IllegalStateException("the bytes are valid UTF-8 after all");
      }
    }
  }
}
