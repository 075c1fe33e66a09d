package dev.graft.model;

import dev.graft.core.GraftException;
import java.util.List;

/**
 * A classification head to graft onto features: {@code hiddenSizes.size()} hidden Linear layers
 * with the activation, then a Linear layer to {@code numClasses} logits; when {@code dropout > 0} a
 * Dropout precedes every Linear layer (the features included, as in MobileNet's classifier).
 *
 * @param hiddenSizes widths of the hidden layers, possibly none
 * @param activation applied after each hidden layer
 * @param dropout dropout ratio in [0, 1), 0 for none
 * @param numClasses number of logits, at least 2
 */
public record HeadSpec(
    List<Integer> hiddenSizes, Activation activation, float dropout, int numClasses) {

  /** Activations available between hidden layers of a head. */
  public enum Activation {
    RELU,
    TANH,
    SIGMOID,
    /** Negative slope 0.01, as {@code torch.nn.LeakyReLU}. */
    LEAKY_RELU
  }

  public HeadSpec {
    hiddenSizes = List.copyOf(hiddenSizes);
    if (activation == null) {
      throw new GraftException.InvalidArgument(
          "head activation is required, one of " + List.of(Activation.values()));
    }
    for (int h : hiddenSizes) {
      if (h <= 0) {
        throw new GraftException.InvalidArgument(
            "head hidden sizes " + hiddenSizes + " must all be positive");
      }
    }
    if (!(dropout >= 0f && dropout < 1f)) {
      throw new GraftException.InvalidArgument("head dropout " + dropout + " must be in [0, 1)");
    }
    if (numClasses < 2) {
      throw new GraftException.InvalidArgument("head needs at least 2 classes, got " + numClasses);
    }
  }

  /** A single Linear layer from the features to the logits. */
  public static HeadSpec linear(int numClasses) {
    return new HeadSpec(List.of(), Activation.RELU, 0f, numClasses);
  }
}
