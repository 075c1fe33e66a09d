package dev.graft.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Cross-entropy on logits, optionally weighted per class as PyTorch's CrossEntropyLoss(weight). */
final class Losses {

  private Losses() {}

  /**
   * Mean cross-entropy of {@code logits} [n, classes] against integer {@code labels} [n]; with
   * {@code classWeights} [classes], the weighted mean sum(w_y * nll) / sum(w_y).
   */
  static NDArray crossEntropy(NDArray logits, NDArray labels, int classes, NDArray classWeights) {
    NDArray logProbabilities = logits.logSoftmax(1);
    NDArray oneHot = labels.toType(DataType.INT64, false).oneHot(classes);
    if (classWeights == null) {
      return logProbabilities.mul(oneHot).sum(new int[] {1}).mean().neg();
    }
    NDArray weighted = oneHot.mul(classWeights);
    return logProbabilities.mul(weighted).sum().neg().div(weighted.sum());
  }

  /** Adds a batch's summed loss and predictions to an evaluation. */
  static void accumulate(Evaluation eval, NDArray logits, int[] labels, int classes) {
    NDArray y = logits.getManager().create(labels);
    double lossSum = crossEntropy(logits, y, classes, null).getFloat() * (double) labels.length;
    long[] predicted = logits.argMax(1).toType(DataType.INT64, false).toLongArray();
    int[] p = new int[predicted.length];
    for (int i = 0; i < p.length; i++) {
      p[i] = (int) predicted[i];
    }
    eval.add(lossSum, labels, p);
  }
}
