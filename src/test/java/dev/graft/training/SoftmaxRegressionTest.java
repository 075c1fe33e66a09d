package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The linear-probe solver: convergence, the optimum it reaches, and the L2 it picks. */
class SoftmaxRegressionTest {

  private static final CancelToken NEVER = new CancelToken();

  /** n examples of k Gaussian blobs in d dimensions; the first {@code informative} carry signal. */
  private static Data blobs(int n, int k, int d, int informative, double spread, long seed) {
    return blobs(n, k, d, informative, spread, seed, true);
  }

  private static Data blobs(
      int n, int k, int d, int informative, double spread, long seed, boolean rawScales) {
    Random r = new Random(seed);
    double[][] centres = new double[k][d];
    for (int c = 0; c < k; c++) {
      for (int j = 0; j < informative; j++) {
        centres[c][j] = r.nextGaussian() * 3;
      }
    }
    float[][] x = new float[n][d];
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      y[i] = i % k;
      for (int j = 0; j < d; j++) {
        // Raw features on very different scales (and offsets): the solver must cope.
        double scale = rawScales ? 1 + 50 * (j % 3) : 1;
        double offset = rawScales ? 7 * j : 0;
        x[i][j] = (float) ((centres[y[i]][j] + r.nextGaussian() * spread) * scale + offset);
      }
    }
    return new Data(x, y);
  }

  private record Data(float[][] x, int[] y) {}

  @Test
  void separableClassesAreFittedExactly() {
    Data train = blobs(200, 4, 16, 16, 0.2, 1);
    SoftmaxRegression.Head head = SoftmaxRegression.fit(train.x(), train.y(), 4, 1e-4);
    Evaluation e = SoftmaxRegression.evaluate(head, train.x(), train.y(), 4);
    assertEquals(1.0, e.accuracy());
    assertTrue(head.trainLoss() < 0.05, "loss " + head.trainLoss());
    assertTrue(head.iterations() < 300, head.iterations() + " iterations");
  }

  @Test
  void reachesTheOptimumThatLongGradientDescentApproaches() {
    Data train = blobs(60, 3, 4, 2, 1.5, 2, false);
    double l2 = 0.05;
    SoftmaxRegression.Head head = SoftmaxRegression.fit(train.x(), train.y(), 3, l2);
    Objective objective = new Objective(train, 3, l2);
    double atSolver = objective.value(flatten(head), null);

    // Plain gradient descent on the same objective (raw parameters, penalty on standardised
    // weights), for long enough to approach its minimum from above.
    double[] theta = new double[3 * 5];
    double[] grad = new double[theta.length];
    double value = objective.value(theta, grad);
    for (int step = 0; step < 200_000; step++) {
      for (int k = 0; k < theta.length; k++) {
        theta[k] -= objective.step * grad[k];
      }
      value = objective.value(theta, grad);
    }
    assertTrue(atSolver <= value + 1e-7, "solver " + atSolver + " vs gradient descent " + value);
    assertEquals(value, atSolver, 1e-5);
    // And its gradient vanishes there.
    objective.value(flatten(head), grad);
    for (int k = 0; k < grad.length; k++) {
      assertEquals(0, grad[k] * objective.scale(k), 1e-4, "gradient component " + k);
    }
  }

  @Test
  void theL2StrengthIsPickedOnTheValidationSplit() {
    // 15 examples, 28 noise features: an unregularised fit memorises the noise.
    Data few = blobs(15, 3, 30, 2, 1.0, 3);
    Data fewVal = blobs(600, 3, 30, 2, 1.0, 3);
    SoftmaxRegression.Selection s =
        SoftmaxRegression.fitAndSelect(few.x(), few.y(), fewVal.x(), fewVal.y(), 3, NEVER);
    assertEquals(SoftmaxRegression.L2_GRID.length, s.candidates().size());
    SoftmaxRegression.Candidate chosen = chosen(s);
    double best =
        s.candidates().stream()
            .mapToDouble(SoftmaxRegression.Candidate::valAccuracy)
            .max()
            .orElseThrow();
    assertEquals(best, chosen.valAccuracy());
    SoftmaxRegression.Candidate weakest = s.candidates().get(s.candidates().size() - 1);
    assertTrue(
        chosen.valAccuracy() > weakest.valAccuracy() + 0.03,
        "regularisation should pay here: " + s.candidates());
    assertTrue(s.head().l2() >= 0.1, "picked " + s.head().l2() + " of " + s.candidates());

    // Plenty of clean examples: every strength classifies the validation split perfectly, and the
    // lower validation loss of a weaker penalty decides.
    Data clean = blobs(400, 4, 16, 16, 0.3, 4);
    Data cleanVal = blobs(400, 4, 16, 16, 0.3, 4);
    SoftmaxRegression.Selection t =
        SoftmaxRegression.fitAndSelect(clean.x(), clean.y(), cleanVal.x(), cleanVal.y(), 4, NEVER);
    assertEquals(1.0, chosen(t).valAccuracy());
    assertTrue(t.head().l2() <= 1e-3, "picked " + t.head().l2() + " of " + t.candidates());
    for (SoftmaxRegression.Candidate c : t.candidates()) {
      assertTrue(
          c.valAccuracy() < 1.0 || c.valLoss() >= chosen(t).valLoss(), "ties go to the lower loss");
    }
  }

  private static SoftmaxRegression.Candidate chosen(SoftmaxRegression.Selection s) {
    return s.candidates().stream().filter(c -> c.l2() == s.head().l2()).findFirst().orElseThrow();
  }

  private static double[] flatten(SoftmaxRegression.Head head) {
    int k = head.bias().length;
    int d = head.weight()[0].length;
    double[] theta = new double[k * (d + 1)];
    for (int c = 0; c < k; c++) {
      for (int j = 0; j < d; j++) {
        theta[c * d + j] = head.weight()[c][j];
      }
      theta[k * d + c] = head.bias()[c];
    }
    return theta;
  }

  /** Mean cross-entropy + l2/2 * sum (w_cj * std_j)^2 on raw features, written independently. */
  private static final class Objective {
    final Data data;
    final int k;
    final int d;
    final double l2;
    final double[] std;
    final double step;

    Objective(Data data, int k, double l2) {
      this.data = data;
      this.k = k;
      this.d = data.x()[0].length;
      this.l2 = l2;
      this.std = new double[d];
      int n = data.x().length;
      double maxSq = 0;
      for (int j = 0; j < d; j++) {
        double mean = 0;
        for (float[] row : data.x()) {
          mean += row[j];
        }
        mean /= n;
        double var = 0;
        double sq = 0;
        for (float[] row : data.x()) {
          var += (row[j] - mean) * (row[j] - mean);
          sq += row[j] * row[j];
        }
        std[j] = Math.sqrt(var / n);
        maxSq = Math.max(maxSq, sq / n);
      }
      // A step below 1 / Lipschitz constant of the raw problem.
      this.step = 1.0 / (d * maxSq + l2 * maxSq + 1);
    }

    /** Scales a gradient component back to standardised units, for the vanishing check. */
    double scale(int index) {
      return index < k * d ? 1 / std[index % d] : 1;
    }

    double value(double[] theta, double[] grad) {
      int n = data.x().length;
      if (grad != null) {
        java.util.Arrays.fill(grad, 0);
      }
      double loss = 0;
      double[] z = new double[k];
      for (int i = 0; i < n; i++) {
        float[] x = data.x()[i];
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < k; c++) {
          double s = theta[k * d + c];
          for (int j = 0; j < d; j++) {
            s += theta[c * d + j] * x[j];
          }
          z[c] = s;
          max = Math.max(max, s);
        }
        double sum = 0;
        for (int c = 0; c < k; c++) {
          sum += Math.exp(z[c] - max);
        }
        loss += Math.log(sum) + max - z[data.y()[i]];
        if (grad != null) {
          for (int c = 0; c < k; c++) {
            double r = (Math.exp(z[c] - max) / sum - (c == data.y()[i] ? 1 : 0)) / n;
            for (int j = 0; j < d; j++) {
              grad[c * d + j] += r * x[j];
            }
            grad[k * d + c] += r;
          }
        }
      }
      double penalty = 0;
      for (int c = 0; c < k; c++) {
        for (int j = 0; j < d; j++) {
          double w = theta[c * d + j] * std[j];
          penalty += w * w;
          if (grad != null) {
            grad[c * d + j] += l2 * theta[c * d + j] * std[j] * std[j];
          }
        }
      }
      return loss / n + 0.5 * l2 * penalty;
    }
  }
}
