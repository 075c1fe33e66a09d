package dev.graft.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.graft.core.GraftException;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SplitsTest {

  /** 3 classes of 100, 50 and 10 examples, interleaved. */
  private static int[] labels() {
    int[] labels = new int[160];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = i < 30 ? i % 3 : (i < 150 ? i % 2 : 2);
    }
    return labels;
  }

  private static final String SHA = "ab".repeat(32);
  private static final Splits.Fractions FRACTIONS = new Splits.Fractions(0.7, 0.1, 0.2);

  @Test
  void sameSeedGivesTheSameSplitAndHash() {
    Splits.Split a = Splits.split(labels(), 3, SHA, FRACTIONS, 42);
    Splits.Split b = Splits.split(labels(), 3, SHA, FRACTIONS, 42);

    assertEquals(a, b);
    assertEquals(64, a.hash().length());
  }

  @Test
  void differentSeedsDatasetsOrFractionsGiveDifferentHashes() {
    Splits.Split a = Splits.split(labels(), 3, SHA, FRACTIONS, 42);

    Splits.Split otherSeed = Splits.split(labels(), 3, SHA, FRACTIONS, 43);
    assertNotEquals(a.hash(), otherSeed.hash());
    assertNotEquals(Arrays.toString(a.test()), Arrays.toString(otherSeed.test()));
    assertNotEquals(a.hash(), Splits.split(labels(), 3, "cd".repeat(32), FRACTIONS, 42).hash());
    assertNotEquals(
        a.hash(), Splits.split(labels(), 3, SHA, new Splits.Fractions(0.6, 0.2, 0.2), 42).hash());
  }

  @Test
  void partsAreStratifiedDisjointAndComplete() {
    int[] labels = labels();
    Splits.Split s = Splits.split(labels, 3, SHA, FRACTIONS, 7);

    int[] all =
        IntStream.concat(
                IntStream.concat(Arrays.stream(s.train()), Arrays.stream(s.validation())),
                Arrays.stream(s.test()))
            .sorted()
            .toArray();
    assertEquals(
        Arrays.toString(IntStream.range(0, labels.length).toArray()), Arrays.toString(all));
    long[] testPerClass = new long[3];
    for (int i : s.test()) {
      testPerClass[labels[i]]++;
    }
    long[] sizes = new long[3];
    for (int l : labels) {
      sizes[l]++;
    }
    for (int c = 0; c < 3; c++) {
      assertEquals(Math.round(sizes[c] * 0.2), testPerClass[c], "class " + c);
    }
  }

  @Test
  void aTrainFractionBelowTheRestLeavesExamplesOut() {
    Splits.Split s = Splits.split(labels(), 3, SHA, new Splits.Fractions(0.1, 0.0, 0.5), 1);
    assertEquals(0, s.validation().length);
    assertEquals(80, s.test().length);
    // 10% of 100 + 50 + 10... per class rounding: 10 + 5 + 1 (10 examples of class 2)
    assertEquals(16, s.train().length);
  }

  @Test
  void invalidFractionsAreRefused() {
    assertThrows(GraftException.InvalidArgument.class, () -> new Splits.Fractions(0.8, 0.2, 0.1));
    assertThrows(GraftException.InvalidArgument.class, () -> new Splits.Fractions(-0.1, 0, 0));
    assertThrows(GraftException.InvalidArgument.class, () -> new Splits.Fractions(0, 0.5, 0.5));
  }
}
