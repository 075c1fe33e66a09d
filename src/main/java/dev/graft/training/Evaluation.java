package dev.graft.training;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Classification metrics of one pass over a split: mean loss, accuracy, macro-F1 and the confusion
 * matrix (row = true class, column = predicted).
 */
final class Evaluation {

  private final int classes;
  private final long[] confusion;
  private double lossSum;
  private long count;

  Evaluation(int classes) {
    this.classes = classes;
    this.confusion = new long[classes * classes];
  }

  /** Adds a batch: summed loss, true labels, predicted classes. */
  void add(double batchLossSum, int[] labels, int[] predicted) {
    lossSum += batchLossSum;
    for (int i = 0; i < labels.length; i++) {
      confusion[labels[i] * classes + predicted[i]]++;
    }
    count += labels.length;
  }

  long count() {
    return count;
  }

  double loss() {
    return count == 0 ? Double.NaN : lossSum / count;
  }

  double accuracy() {
    long correct = 0;
    for (int c = 0; c < classes; c++) {
      correct += confusion[c * classes + c];
    }
    return count == 0 ? Double.NaN : (double) correct / count;
  }

  /** Unweighted mean of per-class F1; a class with no examples and no predictions is skipped. */
  double macroF1() {
    double sum = 0;
    int counted = 0;
    for (int c = 0; c < classes; c++) {
      long tp = confusion[c * classes + c];
      long actual = 0;
      long predicted = 0;
      for (int k = 0; k < classes; k++) {
        actual += confusion[c * classes + k];
        predicted += confusion[k * classes + c];
      }
      if (actual == 0 && predicted == 0) {
        continue;
      }
      double f1 = tp == 0 ? 0 : 2.0 * tp / (actual + predicted);
      sum += f1;
      counted++;
    }
    return counted == 0 ? Double.NaN : sum / counted;
  }

  long[] confusion() {
    return confusion.clone();
  }

  /** The metrics under a prefix, e.g. val_loss, val_accuracy, val_macro_f1. */
  Map<String, Double> metrics(String prefix) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put(prefix + "_loss", loss());
    m.put(prefix + "_accuracy", accuracy());
    m.put(prefix + "_macro_f1", macroF1());
    return m;
  }
}
