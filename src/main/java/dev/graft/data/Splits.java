package dev.graft.data;

import dev.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/**
 * Deterministic, stratified train/validation/test splits. Within each class (in label order) the
 * example indices are shuffled by one {@link Random} seeded with {@code seed}, then the first
 * {@code round(n * test)} go to test, the next {@code round(n * validation)} to validation and the
 * next {@code round(n * train)} to train; the rest (when the fractions add up to less than 1) is
 * left out, which lets a run train on a small part of a large dataset. Each part is sorted.
 *
 * <p>The split hash is the SHA-256 of the dataset's sha256, the three fractions, the seed and the
 * chosen indices: equal hashes prove two runs trained and evaluated on the same examples.
 */
public final class Splits {

  private Splits() {}

  /** Fractions of each class for each part, each in [0, 1], adding up to at most 1. */
  public record Fractions(double train, double validation, double test) {

    public Fractions {
      for (double f : new double[] {train, validation, test}) {
        if (!(f >= 0 && f <= 1)) {
          throw new GraftException.InvalidArgument(
              "split fractions must each lie in [0, 1], got train "
                  + train
                  + ", validation "
                  + validation
                  + ", test "
                  + test);
        }
      }
      if (train + validation + test > 1 + 1e-9) {
        throw new GraftException.InvalidArgument(
            "split fractions add up to "
                + (train + validation + test)
                + "; they may add up to at most 1");
      }
      if (train <= 0) {
        throw new GraftException.InvalidArgument("the train fraction must be greater than 0");
      }
    }
  }

  /** A split: sorted example indices per part, and its hash. */
  public record Split(int[] train, int[] validation, int[] test, String hash) {

    @Override
    public boolean equals(Object o) {
      return o instanceof Split s
          && Arrays.equals(train, s.train)
          && Arrays.equals(validation, s.validation)
          && Arrays.equals(test, s.test)
          && hash.equals(s.hash);
    }

    @Override
    public int hashCode() {
      return hash.hashCode();
    }

    @Override
    public String toString() {
      return "Split[train="
          + train.length
          + ", validation="
          + validation.length
          + ", test="
          + test.length
          + ", hash="
          + hash
          + "]";
    }
  }

  /** Splits an opened dataset; {@code datasetSha256} is its recorded hash. */
  public static Split split(
      DatasetReader dataset, String datasetSha256, Fractions fractions, long seed) {
    return split(dataset.labels(), dataset.classNames().size(), datasetSha256, fractions, seed);
  }

  /** Splits examples with these labels (label i of example i, 0 <= label < classes). */
  public static Split split(
      int[] labels, int classes, String datasetSha256, Fractions fractions, long seed) {
    List<List<Integer>> byClass = new ArrayList<>();
    for (int c = 0; c < classes; c++) {
      byClass.add(new ArrayList<>());
    }
    for (int i = 0; i < labels.length; i++) {
      byClass.get(labels[i]).add(i);
    }
    Random random = new Random(seed);
    IntList train = new IntList();
    IntList validation = new IntList();
    IntList test = new IntList();
    for (List<Integer> members : byClass) {
      int[] shuffled = members.stream().mapToInt(Integer::intValue).toArray();
      for (int i = shuffled.length - 1; i > 0; i--) {
        int j = random.nextInt(i + 1);
        int t = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = t;
      }
      int n = shuffled.length;
      int nTest = (int) Math.round(n * fractions.test());
      int nValidation = Math.min((int) Math.round(n * fractions.validation()), n - nTest);
      int nTrain = Math.min((int) Math.round(n * fractions.train()), n - nTest - nValidation);
      test.addAll(shuffled, 0, nTest);
      validation.addAll(shuffled, nTest, nTest + nValidation);
      train.addAll(shuffled, nTest + nValidation, nTest + nValidation + nTrain);
    }
    int[] tr = train.sorted();
    int[] va = validation.sorted();
    int[] te = test.sorted();
    return new Split(tr, va, te, hash(datasetSha256, fractions, seed, tr, va, te));
  }

  static String hash(
      String datasetSha256, Fractions fractions, long seed, int[] train, int[] val, int[] test) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    sha.update("graft-split-v1\n".getBytes(StandardCharsets.US_ASCII));
    sha.update(String.valueOf(datasetSha256).getBytes(StandardCharsets.US_ASCII));
    ByteBuffer header = ByteBuffer.allocate(3 * 8 + 8);
    header
        .putDouble(fractions.train())
        .putDouble(fractions.validation())
        .putDouble(fractions.test())
        .putLong(seed);
    sha.update(header.array());
    for (int[] part : new int[][] {train, val, test}) {
      ByteBuffer b = ByteBuffer.allocate(4 + 4 * part.length);
      b.putInt(part.length);
      for (int i : part) {
        b.putInt(i);
      }
      sha.update(b.array());
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  private static final class IntList {
    private int[] values = new int[16];
    private int size;

    void addAll(int[] source, int from, int to) {
      for (int i = from; i < to; i++) {
        if (size == values.length) {
          values = Arrays.copyOf(values, size * 2);
        }
        values[size++] = source[i];
      }
    }

    int[] sorted() {
      int[] out = Arrays.copyOf(values, size);
      Arrays.sort(out);
      return out;
    }
  }
}
