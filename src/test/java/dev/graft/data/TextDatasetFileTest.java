package dev.graft.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The version-2 (text) layout of the dataset file, and the builder's text checks. */
class TextDatasetFileTest {

  @TempDir Path dir;

  /**
   * Texts of random lengths drawn from ASCII, Latin-1, CJK and emoji code points (1-4 UTF-8 bytes
   * each), so that characters and bytes differ.
   */
  static List<String> texts(int n, long seed) {
    Random random = new Random(seed);
    int[][] ranges = {{0x20, 0x7e}, {0xa0, 0xff}, {0x4e00, 0x4fff}, {0x1f600, 0x1f64f}};
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      StringBuilder b = new StringBuilder("t" + i + " ");
      int length = 1 + random.nextInt(i % 7 == 0 ? 400 : 40);
      for (int c = 0; c < length; c++) {
        int[] r = ranges[random.nextInt(ranges.length)];
        b.appendCodePoint(r[0] + random.nextInt(r[1] - r[0] + 1));
      }
      out.add(b.toString());
    }
    return out;
  }

  private DatasetBuilder.Staged build(String file, List<String> texts, DatasetLimits limits) {
    try (DatasetBuilder b =
        new DatasetBuilder(
            dir.resolve(file), DatasetKind.TEXT, List.of("a", "b", "c"), limits, null, null)) {
      for (int i = 0; i < texts.size(); i++) {
        b.addText(i % 3, texts.get(i), "example " + i);
      }
      return b.finish();
    }
  }

  private static String sha256(Path file) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }

  @Test
  void textsRoundTripWithRandomAccessAndStats() throws Exception {
    List<String> texts = texts(200, 1);
    DatasetBuilder.Staged staged = build("a.part", texts, DatasetLimits.defaults());

    assertEquals(DatasetKind.TEXT, staged.kind());
    assertEquals(List.of(67L, 67L, 66L), staged.classCounts());
    assertEquals(List.of(), staged.shape());
    long maxChars = texts.stream().mapToLong(t -> t.codePointCount(0, t.length())).max().orElse(0);
    double meanChars =
        texts.stream().mapToLong(t -> t.codePointCount(0, t.length())).average().orElse(0);
    long maxBytes =
        texts.stream().mapToLong(t -> t.getBytes(StandardCharsets.UTF_8).length).max().orElse(0);
    assertEquals(new DatasetFile.TextStats(maxChars, meanChars, maxBytes), staged.textStats());
    assertTrue(maxBytes > maxChars, "multi-byte characters");
    assertEquals(sha256(staged.file()), staged.sha256());
    assertEquals(Files.size(staged.file()), staged.sizeBytes());
    try (Stream<Path> left = Files.list(dir)) {
      assertEquals(List.of(dir.resolve("a.part")), left.toList(), "the offsets side file is gone");
    }

    // Small windows, so that records and offsets fall into many mappings.
    for (long window : new long[] {DatasetReader.TEXT_WINDOW, 64, 8}) {
      try (DatasetReader r = DatasetReader.open(staged.file(), Integer.MAX_VALUE, window)) {
        assertEquals(200, r.size());
        assertEquals(DatasetKind.TEXT, r.kind());
        assertEquals(List.of(), r.shape());
        TextExamples examples = r.textExamples();
        assertEquals(200L, examples.size());
        assertEquals(staged.textStats(), examples.stats());
        // Out of order, as a shuffled loader reads.
        for (int i : new int[] {199, 0, 57, 3, 120, 198, 1}) {
          assertEquals(texts.get(i), examples.text(i));
          assertEquals(i % 3, examples.label((long) i));
          assertEquals(texts.get(i), r.text(i));
        }
        for (int i = 0; i < 200; i++) {
          assertEquals(texts.get(i), r.text(i), "text " + i);
        }
        int[] labels = r.labels();
        assertEquals(0, labels[0]);
        assertEquals(2, labels[197]);
        assertThrows(IndexOutOfBoundsException.class, () -> examples.text(200));
        assertThrows(IndexOutOfBoundsException.class, () -> examples.label(-1));
        assertThrows(IllegalStateException.class, () -> r.example(0, null));
        assertThrows(IllegalStateException.class, () -> r.batch(new int[] {0}, null));
        assertThrows(IllegalStateException.class, () -> r.features(0));
      }
    }
  }

  @Test
  void theLayoutIsRecordsThenOffsetsThenFooter() throws Exception {
    List<String> texts = List.of("hé", "añ b", "ü");
    DatasetBuilder.Staged staged = build("layout.part", texts, DatasetLimits.defaults());
    ByteBuffer file =
        ByteBuffer.wrap(Files.readAllBytes(staged.file())).order(ByteOrder.LITTLE_ENDIAN);
    // records: label | byte length | bytes
    assertEquals(0, file.getInt(0));
    assertEquals(3, file.getInt(4));
    assertEquals("hé", new String(file.array(), 8, 3, StandardCharsets.UTF_8));
    assertEquals(1, file.getInt(11));
    assertEquals(5, file.getInt(15));
    long recordsEnd = 8 + 3 + 8 + 5 + 8 + 2;
    // offsets
    assertEquals(0, file.getLong((int) recordsEnd));
    assertEquals(11, file.getLong((int) recordsEnd + 8));
    assertEquals(24, file.getLong((int) recordsEnd + 16));
    int n = file.capacity();
    int footerLength = file.getInt(n - 12);
    assertEquals(recordsEnd + 24 + footerLength + 12, n);
    String footer =
        new String(file.array(), (int) recordsEnd + 24, footerLength, StandardCharsets.UTF_8);
    assertEquals(
        "{\"version\":2,\"kind\":\"TEXT\",\"dtype\":\"utf8\",\"shape\":[],\"count\":3,"
            + "\"classNames\":[\"a\",\"b\",\"c\"],\"classCounts\":[1,1,1],"
            + "\"text\":{\"maxChars\":4,\"meanChars\":2.3333333333333335,\"maxBytes\":5}}",
        footer);
    assertEquals(
        "GRAFTDS1", new String(Arrays.copyOfRange(file.array(), n - 8, n), StandardCharsets.UTF_8));
  }

  @Test
  void equalTextsGiveAnEqualHashAndAnyChangeAnother() {
    List<String> texts = texts(50, 2);
    String first = build("1.part", texts, DatasetLimits.defaults()).sha256();
    assertEquals(first, build("2.part", texts, DatasetLimits.defaults()).sha256());
    List<String> changed = new ArrayList<>(texts);
    changed.set(49, changed.get(49) + "!");
    assertNotEquals(first, build("3.part", changed, DatasetLimits.defaults()).sha256());
  }

  @Test
  void featureFootersStayVersionOneWithoutTextStats() throws Exception {
    Path file = dir.resolve("f.part");
    DatasetBuilder.Staged staged;
    try (DatasetBuilder b =
        new DatasetBuilder(
            file, DatasetKind.FEATURES, List.of("a"), DatasetLimits.defaults(), null, null)) {
      b.addFeatures(0, new float[] {1, 2}, "example 0");
      staged = b.finish();
    }
    assertEquals(null, staged.textStats());
    byte[] all = Files.readAllBytes(file);
    String footer = new String(all, 12, all.length - 24, StandardCharsets.UTF_8);
    assertEquals(
        "{\"version\":1,\"kind\":\"FEATURES\",\"dtype\":\"float32\",\"shape\":[2],\"count\":1,"
            + "\"classNames\":[\"a\"],\"classCounts\":[1]}",
        footer);
    try (DatasetReader r = DatasetReader.open(file)) {
      assertArrayEquals(new float[] {1, 2}, r.features(0));
      assertThrows(IllegalStateException.class, () -> r.text(0));
    }
  }

  private GraftException refused(DatasetLimits limits, String text) {
    Path file = dir.resolve("refused.part");
    DatasetBuilder b = new DatasetBuilder(file, DatasetKind.TEXT, List.of("a"), limits, null, null);
    try {
      b.addText(0, "fine", "example 0");
      return assertThrows(GraftException.class, () -> b.addText(0, text, "example 1"));
    } finally {
      b.abort();
      assertFalse(Files.exists(file));
      assertFalse(Files.exists(dir.resolve("refused.part.offsets")));
    }
  }

  @Test
  void textsAreCheckedAgainstTheLimits() {
    DatasetLimits fiveChars = new DatasetLimits(16, 1 << 20, 10, 10, 64, 5);
    assertEquals(
        "example 1 has 6 characters; one text may have at most 5 (graft.data.max-text-chars)",
        refused(fiveChars, "abcdef").getMessage());
    // Five characters of four bytes each: 20 bytes, over the 16-byte example limit.
    assertEquals(
        "example 1 is 20 bytes; one example may have at most 16 (graft.data.max-example-bytes)",
        refused(fiveChars, "😀😀😀😀😀").getMessage());
    assertEquals(
        "example 1 has no text (it is empty or only white space)",
        refused(fiveChars, " \n\t").getMessage());
    assertEquals(
        "example 1 has text that is not valid Unicode (an unpaired surrogate)",
        refused(fiveChars, "a\uD800b").getMessage());
    assertTrue(
        refused(new DatasetLimits(16, 1 << 20, 1, 10, 64, 5), "abc")
            .getMessage()
            .contains("is one more than the 1 examples a dataset may have"));
    // 4 + 4 + 4 ("fine") + 8 (its offset) = 20 bytes; the next one would pass 30.
    assertTrue(
        refused(new DatasetLimits(16, 30, 10, 10, 64, 5), "abc")
            .getMessage()
            .contains("would make the dataset larger than 30 bytes"));
  }
}
