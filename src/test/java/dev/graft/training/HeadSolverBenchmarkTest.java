package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Bench (not a timed test): the transfer-learning head fit on cached features, 1,000 examples x 64
 * features x 10 classes, the whole L2 search included (target < 1 s), against one fit at a fixed L2
 * measured in the same run.
 */
@Tag("bench")
class HeadSolverBenchmarkTest {

  @Test
  void headFitOnAThousandByEightyFourFeaturesTakesUnderASecond() {
    int n = 1000;
    int d = 64;
    int k = 10;
    Random r = new Random(1);
    double[][] centres = new double[k][d];
    for (double[] c : centres) {
      for (int j = 0; j < d; j++) {
        c[j] = r.nextGaussian();
      }
    }
    float[][] x = new float[n][d];
    float[][] vx = new float[n / 5][d];
    int[] y = new int[n];
    int[] vy = new int[n / 5];
    for (int i = 0; i < n; i++) {
      y[i] = i % k;
      for (int j = 0; j < d; j++) {
        x[i][j] = (float) Math.max(0, centres[y[i]][j] + 1.5 * r.nextGaussian());
      }
    }
    for (int i = 0; i < vx.length; i++) {
      vy[i] = i % k;
      for (int j = 0; j < d; j++) {
        vx[i][j] = (float) Math.max(0, centres[vy[i]][j] + 1.5 * r.nextGaussian());
      }
    }
    CancelToken token = new CancelToken();
    // Warm-up (JIT), then the best of three.
    SoftmaxRegression.fitAndSelect(x, y, vx, vy, k, token);
    double search = Double.MAX_VALUE;
    double single = Double.MAX_VALUE;
    SoftmaxRegression.Selection s = null;
    for (int rep = 0; rep < 3; rep++) {
      long t0 = System.nanoTime();
      s = SoftmaxRegression.fitAndSelect(x, y, vx, vy, k, token);
      search = Math.min(search, (System.nanoTime() - t0) / 1e9);
      long t1 = System.nanoTime();
      SoftmaxRegression.fit(x, y, k, s.head().l2());
      single = Math.min(single, (System.nanoTime() - t1) / 1e9);
    }
    SoftmaxRegression.Selection picked = s;
    System.out.printf(
        "BENCH head solver 1000x64x10: L2 search (%d fits) %.3f s, one fit %.3f s (ratio %.1f),"
            + " picked l2 %.0e, val accuracy %.3f, iterations %s%n",
        picked.candidates().size(),
        search,
        single,
        search / single,
        picked.head().l2(),
        picked.candidates().stream()
            .filter(c -> c.l2() == picked.head().l2())
            .findFirst()
            .orElseThrow()
            .valAccuracy(),
        picked.candidates().stream().map(c -> c.iterations()).toList());
    assertTrue(search < 1.0, "head fit took " + search + " s; target < 1 s");
  }
}
