package dev.graft.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import dev.graft.core.GraftException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MiniLM's own tokenizer.json through the native tokenizers library, offline. */
class TextTokenizerTest {

  @TempDir static Path dir;
  static Path file;

  @BeforeAll
  static void copyTokenizer() throws IOException {
    System.setProperty("ai.djl.offline", "true");
    file = dir.resolve(TextTokenizer.FILE_NAME);
    try (InputStream in =
        TextTokenizerTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
      Files.copy(in, file);
    }
  }

  @Test
  void encodesLikeBertWithSpecialTokensAndLowerCase() {
    try (TextTokenizer t = TextTokenizer.load(file, 128)) {
      TokenBatch b = t.encode(List.of("Hello world"));
      // [CLS] hello world [SEP], the ids of bert-base-uncased's vocabulary
      assertArrayEquals(new long[] {101, 7592, 2088, 102}, b.inputIds());
      assertArrayEquals(new long[] {1, 1, 1, 1}, b.attentionMask());
      assertArrayEquals(new long[] {0, 0, 0, 0}, b.tokenTypeIds());
      assertEquals(64, t.sha256().length());
    }
  }

  @Test
  void padsToTheLongestOfTheBatchAndTruncatesAtMaxLength() {
    try (TextTokenizer t = TextTokenizer.load(file, 16)) {
      String longText = "word ".repeat(100);
      TokenBatch b = t.encode(List.of("short", "a bit longer text", longText));
      assertEquals(3, b.batch());
      assertEquals(16, b.length());
      assertEquals(3, b.tokens()[0]);
      assertEquals(16, b.tokens()[2]);
      assertFalse(b.truncated()[0]);
      assertTrue(b.truncated()[2]);
      assertEquals(1, b.truncatedCount());
      assertEquals(0L, b.inputIds()[3]); // padding of row 0
      assertEquals(0L, b.attentionMask()[3]);
      assertEquals(102L, b.inputIds()[2 * 16 + 15]); // [SEP] kept at the cut

      TokenBatch small = t.encode(List.of("short", "tiny"));
      assertEquals(3, small.length()); // dynamic padding: no fixed 128 from tokenizer.json
    }
  }

  @Test
  void refusesBadLengthsAndFiles() throws IOException {
    assertThrows(GraftException.InvalidArgument.class, () -> TextTokenizer.load(file, 1));
    assertThrows(GraftException.InvalidArgument.class, () -> TextTokenizer.load(file, 513));
    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, "{\"not\":\"a tokenizer\"}");
    assertThrows(GraftException.InvalidArgument.class, () -> TextTokenizer.load(bad, 128));
  }

  @Test
  void pyTorchStaysTheDefaultEngine() {
    // the tokenizers jar brings a Rust engine of its own; training must not pick it up
    assertEquals("PyTorch", Engine.getInstance().getEngineName());
  }
}
