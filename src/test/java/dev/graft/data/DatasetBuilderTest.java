package dev.graft.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.core.GraftException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetBuilderTest {

  @TempDir Path dir;

  private DatasetBuilder images(DatasetLimits limits, ImageShape shape, ResizePolicy policy) {
    return new DatasetBuilder(
        dir.resolve("staging.part"), DatasetKind.IMAGE, List.of("a", "b"), limits, shape, policy);
  }

  private DatasetBuilder features(DatasetLimits limits) {
    return new DatasetBuilder(
        dir.resolve("staging.part"), DatasetKind.FEATURES, List.of("a", "b"), limits, null, null);
  }

  private static DatasetLimits limits(long exampleBytes, long datasetBytes, long examples) {
    return new DatasetLimits(exampleBytes, datasetBytes, examples, 100, 64, 1000);
  }

  @Test
  void imagesRoundTripThroughTheStoredFile() throws Exception {
    DatasetBuilder.Staged staged;
    try (DatasetBuilder b = images(DatasetLimits.defaults(), null, null)) {
      for (int i = 0; i < 5; i++) {
        b.addEncodedImage(i % 2, TestImages.png(TestImages.gray(6, 4, i)), "example " + i);
      }
      staged = b.finish();
    }

    assertEquals(List.of(3L, 2L), staged.classCounts());
    assertEquals(List.of(1L, 6L, 4L), staged.shape());
    byte[] file = Files.readAllBytes(staged.file());
    assertEquals(file.length, staged.sizeBytes());
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file));
    assertEquals(sha, staged.sha256());
    try (DatasetReader r = DatasetReader.open(staged.file())) {
      assertEquals(5, r.size());
      assertEquals(List.of("a", "b"), r.classNames());
      assertArrayEquals(new int[] {0, 1, 0, 1, 0}, r.labels());
      for (int i = 0; i < 5; i++) {
        assertEquals(TestImages.gray(6, 4, i), r.pixels(i));
      }
      float[] raw = r.example(3, null);
      assertEquals((TestImages.gray(6, 4, 3).at(0, 1, 2)) / 255f, raw[6], 1e-6f);
      DatasetReader.Batch batch = r.batch(new int[] {4, 1}, Preprocessing.unitScale(3, 3, 2));
      assertArrayEquals(new int[] {0, 1}, batch.labels());
      assertArrayEquals(new long[] {3, 3, 2}, batch.inputShape());
      assertEquals(2 * 18, batch.inputs().length);
      float[] viaServingPath =
          Preprocessing.unitScale(3, 3, 2).apply(TestImages.png(TestImages.gray(6, 4, 1)), "x");
      float[] second = java.util.Arrays.copyOfRange(batch.inputs(), 18, 36);
      assertArrayEquals(viaServingPath, second, 0f);
    }
  }

  @Test
  void featuresRoundTrip() {
    DatasetBuilder.Staged staged;
    try (DatasetBuilder b = features(DatasetLimits.defaults())) {
      b.addFeatures(1, new float[] {1.5f, -2f, 3e-7f}, "example 0");
      b.addFeatures(0, new float[] {0f, 1f, 2f}, "example 1");
      staged = b.finish();
    }
    try (DatasetReader r = DatasetReader.open(staged.file())) {
      assertEquals(List.of(3L), r.shape());
      assertArrayEquals(new float[] {1.5f, -2f, 3e-7f}, r.features(0), 0f);
      assertArrayEquals(new float[] {0f, 1f, 2f}, r.example(1, null), 0f);
      assertArrayEquals(new int[] {1, 0}, r.labels());
    }
  }

  @Test
  void equalContentGivesEqualHashes() {
    String[] hashes = new String[2];
    for (int k = 0; k < 2; k++) {
      try (DatasetBuilder b =
          new DatasetBuilder(
              dir.resolve("s" + k),
              DatasetKind.FEATURES,
              List.of("a", "b"),
              DatasetLimits.defaults(),
              null,
              null)) {
        b.addFeatures(0, new float[] {1, 2}, "e0");
        b.addFeatures(1, new float[] {3, 4}, "e1");
        hashes[k] = b.finish().sha256();
      }
    }
    assertEquals(hashes[0], hashes[1]);
  }

  private void assertAbortedWith(
      Class<? extends GraftException> type, String text, DatasetBuilder b, Runnable step) {
    try (b) {
      var e = assertThrows(type, step::run);
      assertTrue(e.getMessage().contains(text), e.getMessage());
    }
    assertFalse(Files.exists(dir.resolve("staging.part")), "the staging file was deleted");
  }

  @Test
  void emptyClassIsRefused() {
    DatasetBuilder b = features(DatasetLimits.defaults());
    assertAbortedWith(
        GraftException.InvalidArgument.class,
        "class [b] declared but without examples",
        b,
        () -> {
          b.addFeatures(0, new float[] {1}, "example 0");
          b.finish();
        });
  }

  @Test
  void featureVectorsOfDifferentLengthsAreRefused() {
    DatasetBuilder b = features(DatasetLimits.defaults());
    assertAbortedWith(
        GraftException.InvalidArgument.class,
        "example 1 has 3 features but the first example has 2",
        b,
        () -> {
          b.addFeatures(0, new float[] {1, 2}, "example 0");
          b.addFeatures(1, new float[] {1, 2, 3}, "example 1");
        });
  }

  @Test
  void mixedImageSizesAreRefusedWithoutAResizePolicy() {
    DatasetBuilder b = images(DatasetLimits.defaults(), null, ResizePolicy.REJECT);
    assertAbortedWith(
        GraftException.InvalidArgument.class,
        "example 1 is 5x5 (height x width) but the dataset's images are 4x4",
        b,
        () -> {
          b.addImage(0, TestImages.gray(4, 4, 0), "example 0");
          b.addImage(1, TestImages.gray(5, 5, 0), "example 1");
        });
  }

  @Test
  void stretchResizesToTheDeclaredShapeAndConvertsChannels() {
    try (DatasetBuilder b =
        images(DatasetLimits.defaults(), new ImageShape(3, 4, 4), ResizePolicy.STRETCH)) {
      b.addImage(0, TestImages.gray(8, 8, 0), "example 0");
      b.addImage(1, new Pixels(3, 2, 2, new byte[12]), "example 1");
      DatasetBuilder.Staged staged = b.finish();
      assertEquals(List.of(3L, 4L, 4L), staged.shape());
      try (DatasetReader r = DatasetReader.open(staged.file())) {
        Pixels first = r.pixels(0);
        assertEquals(first.at(0, 2, 1), first.at(2, 2, 1), "gray repeated into RGB");
      }
    }
  }

  @Test
  void unknownLabelsAreRefused() {
    DatasetBuilder b = features(DatasetLimits.defaults());
    assertAbortedWith(
        GraftException.InvalidArgument.class,
        "example 4 has label 'c', which is not one of the classes [a, b]",
        b,
        () -> b.label("c", "example 4"));
    DatasetBuilder b2 = features(DatasetLimits.defaults());
    assertAbortedWith(
        GraftException.InvalidArgument.class,
        "example 5 has label index 2, outside 0..1",
        b2,
        () -> b2.label(2, "example 5"));
  }

  @Test
  void limitsAreResourceExhausted() {
    DatasetBuilder tooMany = features(limits(1000, 1 << 20, 2));
    assertAbortedWith(
        GraftException.ResourceExhausted.class,
        "graft.data.max-examples",
        tooMany,
        () -> {
          for (int i = 0; i < 3; i++) {
            tooMany.addFeatures(i % 2, new float[] {i}, "example " + i);
          }
        });
    // each record is 4 + 4 * 4 = 20 bytes
    DatasetBuilder tooLarge = features(limits(1000, 50, 100));
    assertAbortedWith(
        GraftException.ResourceExhausted.class,
        "example 2 would make the dataset larger than 50 bytes",
        tooLarge,
        () -> {
          for (int i = 0; i < 3; i++) {
            tooLarge.addFeatures(i % 2, new float[4], "example " + i);
          }
        });
    DatasetBuilder bigExample = features(limits(12, 1 << 20, 100));
    assertAbortedWith(
        GraftException.ResourceExhausted.class,
        "example 0 is 16 bytes; one example may have at most 12",
        bigExample,
        () -> bigExample.addFeatures(0, new float[4], "example 0"));
    DatasetBuilder bigImage = images(limits(1 << 20, 1 << 20, 100), null, null);
    assertAbortedWith(
        GraftException.ResourceExhausted.class,
        "graft.data.max-image-side",
        bigImage,
        () -> bigImage.addImage(0, TestImages.gray(65, 2, 0), "example 0"));
  }

  @Test
  void classNamesAreChecked() {
    Path staging = dir.resolve("x");
    assertThrows(
        GraftException.InvalidArgument.class,
        () ->
            new DatasetBuilder(
                staging, DatasetKind.FEATURES, List.of(), DatasetLimits.defaults(), null, null));
    var dup =
        assertThrows(
            GraftException.InvalidArgument.class,
            () ->
                new DatasetBuilder(
                    staging,
                    DatasetKind.FEATURES,
                    List.of("a", "a"),
                    DatasetLimits.defaults(),
                    null,
                    null));
    assertTrue(dup.getMessage().contains("'a' is declared twice"));
    assertFalse(Files.exists(staging));
  }
}
