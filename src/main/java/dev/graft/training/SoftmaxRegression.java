package dev.graft.training;

import java.util.ArrayList;
import java.util.List;

/**
 * Multinomial logistic regression fitted to convergence by L-BFGS, with its L2 strength picked on
 * the validation split from a log grid: the linear-probe protocol of the CLIP paper (Radford et al.
 * 2021, appendix A.3), here for the head of a transfer-learning run on cached features.
 *
 * <p>The objective is the mean cross-entropy plus {@code l2 / 2 * ||W||^2} (the bias is not
 * penalised), on features standardised by the training mean and standard deviation, which makes one
 * grid fit every feature scale; the returned weights are folded back to the raw features, so they
 * drop into the head's Gemm unchanged. Plain double arrays: a head is at most a few thousand
 * examples by a few thousand features, where one evaluation of the objective is milliseconds.
 */
final class SoftmaxRegression {

  /** L2 strengths tried, strongest first: each fit warm-starts from the previous one. */
  static final double[] L2_GRID = {1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6};

  private static final int MEMORY = 10;
  private static final int MAX_ITERATIONS = 300;
  private static final double GRADIENT_TOLERANCE = 1e-5;
  private static final double LOSS_TOLERANCE = 1e-10;

  private SoftmaxRegression() {}

  /**
   * A fitted head on raw features: {@code logits = weight * x + bias}.
   *
   * @param weight [classes][features], as Gemm's B with transB = 1
   * @param bias [classes]
   * @param l2 the L2 strength it was fitted with
   * @param iterations L-BFGS iterations of its fit
   * @param trainLoss mean training cross-entropy (without the penalty)
   */
  record Head(float[][] weight, float[] bias, double l2, int iterations, double trainLoss) {

    float[] logits(float[] x) {
      float[] out = new float[bias.length];
      for (int c = 0; c < bias.length; c++) {
        double s = bias[c];
        float[] w = weight[c];
        for (int j = 0; j < w.length; j++) {
          s += (double) w[j] * x[j];
        }
        out[c] = (float) s;
      }
      return out;
    }
  }

  /** One point of the L2 search, measured on the validation split. */
  record Candidate(double l2, double valAccuracy, double valLoss, int iterations) {}

  /** The head with the best validation accuracy (ties: lower validation loss), and the search. */
  record Selection(Head head, List<Candidate> candidates) {}

  /** Fits one head per {@link #L2_GRID} value on the training rows and keeps the best on val. */
  static Selection fitAndSelect(
      float[][] trainX, int[] trainY, float[][] valX, int[] valY, int classes, CancelToken token) {
    Standardized z = Standardized.of(trainX);
    double[] theta = null;
    Head best = null;
    Candidate bestCandidate = null;
    List<Candidate> candidates = new ArrayList<>();
    for (double l2 : L2_GRID) {
      token.check();
      Fit fit = fit(z, trainY, classes, l2, theta);
      theta = fit.theta;
      Head head = z.unfold(theta, classes, l2, fit.iterations, fit.loss);
      Evaluation val = evaluate(head, valX, valY, classes);
      Candidate c = new Candidate(l2, val.accuracy(), val.loss(), fit.iterations);
      candidates.add(c);
      if (bestCandidate == null
          || c.valAccuracy() > bestCandidate.valAccuracy() + 1e-12
          || (Math.abs(c.valAccuracy() - bestCandidate.valAccuracy()) <= 1e-12
              && c.valLoss() < bestCandidate.valLoss())) {
        best = head;
        bestCandidate = c;
      }
    }
    return new Selection(best, List.copyOf(candidates));
  }

  /** One fit at a fixed L2 strength, from zero weights. */
  static Head fit(float[][] x, int[] y, int classes, double l2) {
    Standardized z = Standardized.of(x);
    Fit fit = fit(z, y, classes, l2, null);
    return z.unfold(fit.theta, classes, l2, fit.iterations, fit.loss);
  }

  /** Loss, accuracy and macro-F1 of a head on some rows. */
  static Evaluation evaluate(Head head, float[][] x, int[] y, int classes) {
    Evaluation eval = new Evaluation(classes);
    int[] one = new int[1];
    int[] predicted = new int[1];
    for (int i = 0; i < x.length; i++) {
      float[] logits = head.logits(x[i]);
      int arg = 0;
      double max = Double.NEGATIVE_INFINITY;
      for (int c = 0; c < classes; c++) {
        if (logits[c] > max) {
          max = logits[c];
          arg = c;
        }
      }
      double sum = 0;
      for (int c = 0; c < classes; c++) {
        sum += Math.exp(logits[c] - max);
      }
      one[0] = y[i];
      predicted[0] = arg;
      eval.add(Math.log(sum) + max - logits[y[i]], one, predicted);
    }
    return eval;
  }

  private record Fit(double[] theta, int iterations, double loss) {}

  /** Features as (x - mean) / std, row-major, with the statistics to fold a fit back. */
  private record Standardized(double[] rows, int n, int d, double[] mean, double[] std) {

    static Standardized of(float[][] x) {
      int n = x.length;
      int d = x[0].length;
      double[] mean = new double[d];
      double[] std = new double[d];
      for (float[] row : x) {
        for (int j = 0; j < d; j++) {
          mean[j] += row[j];
        }
      }
      for (int j = 0; j < d; j++) {
        mean[j] /= n;
      }
      for (float[] row : x) {
        for (int j = 0; j < d; j++) {
          double v = row[j] - mean[j];
          std[j] += v * v;
        }
      }
      for (int j = 0; j < d; j++) {
        std[j] = Math.sqrt(std[j] / n);
        // A constant feature carries nothing; a scale of 1 keeps its weight at 0 by the penalty.
        if (std[j] < 1e-6) {
          std[j] = 1;
        }
      }
      double[] rows = new double[n * d];
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) {
          rows[i * d + j] = (x[i][j] - mean[j]) / std[j];
        }
      }
      return new Standardized(rows, n, d, mean, std);
    }

    /** theta = [W (classes x d, row-major), b (classes)] on standardised features, on raw ones. */
    Head unfold(double[] theta, int classes, double l2, int iterations, double loss) {
      float[][] w = new float[classes][d];
      float[] b = new float[classes];
      for (int c = 0; c < classes; c++) {
        double shift = theta[classes * d + c];
        for (int j = 0; j < d; j++) {
          double wj = theta[c * d + j] / std[j];
          w[c][j] = (float) wj;
          shift -= wj * mean[j];
        }
        b[c] = (float) shift;
      }
      return new Head(w, b, l2, iterations, loss);
    }
  }

  /**
   * The objective at {@code theta}: writes its gradient to {@code grad} and returns the value;
   * {@code lossOut[0]} gets the cross-entropy alone.
   */
  private static double objective(
      Standardized z,
      int[] y,
      int classes,
      double l2,
      double[] theta,
      double[] grad,
      double[] lossOut) {
    int n = z.n;
    int d = z.d;
    java.util.Arrays.fill(grad, 0);
    double[] logits = new double[classes];
    double loss = 0;
    int biasAt = classes * d;
    for (int i = 0; i < n; i++) {
      int row = i * d;
      double max = Double.NEGATIVE_INFINITY;
      for (int c = 0; c < classes; c++) {
        double s = theta[biasAt + c];
        int w = c * d;
        for (int j = 0; j < d; j++) {
          s += theta[w + j] * z.rows[row + j];
        }
        logits[c] = s;
        max = Math.max(max, s);
      }
      double target = logits[y[i]];
      double sum = 0;
      for (int c = 0; c < classes; c++) {
        logits[c] = Math.exp(logits[c] - max);
        sum += logits[c];
      }
      loss += Math.log(sum) + max - target;
      for (int c = 0; c < classes; c++) {
        double r = (logits[c] / sum - (c == y[i] ? 1 : 0)) / n;
        if (r == 0) {
          continue;
        }
        int w = c * d;
        for (int j = 0; j < d; j++) {
          grad[w + j] += r * z.rows[row + j];
        }
        grad[biasAt + c] += r;
      }
    }
    loss /= n;
    double penalty = 0;
    for (int k = 0; k < biasAt; k++) {
      penalty += theta[k] * theta[k];
      grad[k] += l2 * theta[k];
    }
    lossOut[0] = loss;
    return loss + 0.5 * l2 * penalty;
  }

  /** L-BFGS (two-loop recursion) with a backtracking Armijo line search. */
  private static Fit fit(Standardized z, int[] y, int classes, double l2, double[] start) {
    int size = classes * (z.d + 1);
    double[] x = start == null ? new double[size] : start.clone();
    double[] g = new double[size];
    double[] lossOut = new double[1];
    double f = objective(z, y, classes, l2, x, g, lossOut);
    double[][] s = new double[MEMORY][];
    double[][] yv = new double[MEMORY][];
    double[] rho = new double[MEMORY];
    int stored = 0;
    int next = 0;
    double[] direction = new double[size];
    double[] alpha = new double[MEMORY];
    double[] xNew = new double[size];
    double[] gNew = new double[size];
    int iteration = 0;
    while (iteration < MAX_ITERATIONS) {
      if (maxAbs(g) < GRADIENT_TOLERANCE) {
        break;
      }
      iteration++;
      // direction = -H g by the two-loop recursion over the stored pairs, newest first.
      for (int k = 0; k < size; k++) {
        direction[k] = -g[k];
      }
      for (int m = 0; m < stored; m++) {
        int at = Math.floorMod(next - 1 - m, MEMORY);
        alpha[at] = rho[at] * dot(s[at], direction);
        axpy(-alpha[at], yv[at], direction);
      }
      double gamma;
      if (stored > 0) {
        int last = Math.floorMod(next - 1, MEMORY);
        gamma = dot(s[last], yv[last]) / dot(yv[last], yv[last]);
      } else {
        gamma = 1 / Math.max(1, Math.sqrt(dot(g, g)));
      }
      for (int k = 0; k < size; k++) {
        direction[k] *= gamma;
      }
      for (int m = stored - 1; m >= 0; m--) {
        int at = Math.floorMod(next - 1 - m, MEMORY);
        double beta = rho[at] * dot(yv[at], direction);
        axpy(alpha[at] - beta, s[at], direction);
      }
      double slope = dot(g, direction);
      if (slope >= 0) {
        // Not a descent direction (curvature pairs gone stale): restart from steepest descent.
        stored = 0;
        for (int k = 0; k < size; k++) {
          direction[k] = -g[k] / Math.max(1, Math.sqrt(dot(g, g)));
        }
        slope = dot(g, direction);
      }
      double step = 1;
      double fNew = Double.NaN;
      boolean accepted = false;
      for (int tries = 0; tries < 40; tries++) {
        for (int k = 0; k < size; k++) {
          xNew[k] = x[k] + step * direction[k];
        }
        fNew = objective(z, y, classes, l2, xNew, gNew, lossOut);
        if (fNew <= f + 1e-4 * step * slope) {
          accepted = true;
          break;
        }
        step *= 0.5;
      }
      if (!accepted) {
        break;
      }
      double[] sk = new double[size];
      double[] yk = new double[size];
      for (int k = 0; k < size; k++) {
        sk[k] = xNew[k] - x[k];
        yk[k] = gNew[k] - g[k];
      }
      double sy = dot(sk, yk);
      if (sy > 1e-12 * dot(yk, yk)) {
        s[next] = sk;
        yv[next] = yk;
        rho[next] = 1 / sy;
        next = (next + 1) % MEMORY;
        stored = Math.min(stored + 1, MEMORY);
      }
      double decrease = f - fNew;
      System.arraycopy(xNew, 0, x, 0, size);
      System.arraycopy(gNew, 0, g, 0, size);
      f = fNew;
      if (decrease <= LOSS_TOLERANCE * Math.max(1, Math.abs(f))) {
        break;
      }
    }
    objective(z, y, classes, l2, x, g, lossOut);
    return new Fit(x, iteration, lossOut[0]);
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int k = 0; k < a.length; k++) {
      s += a[k] * b[k];
    }
    return s;
  }

  private static void axpy(double a, double[] x, double[] y) {
    for (int k = 0; k < x.length; k++) {
      y[k] += a * x[k];
    }
  }

  private static double maxAbs(double[] a) {
    double m = 0;
    for (double v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }
}
