package dev.graft.serving;

import java.util.List;

/**
 * The tensors a served model takes and gives: one float32 input {@code [N, ...]} and one float32
 * output {@code [N, classes]} (the logits). Shapes use -1 for the batch dimension.
 */
public record ModelSignature(
    String inputName, List<Long> inputShape, String outputName, List<Long> outputShape) {

  public ModelSignature {
    inputShape = List.copyOf(inputShape);
    outputShape = List.copyOf(outputShape);
  }

  /** Floats per example. */
  public int rowSize() {
    long size = 1;
    for (int i = 1; i < inputShape.size(); i++) {
      size *= inputShape.get(i);
    }
    return Math.toIntExact(size);
  }

  /** Output values per example (the number of classes). */
  public int classes() {
    return Math.toIntExact(outputShape.get(1));
  }
}
