package dev.graft.serving;

import java.util.List;

/**
 * The tensors a served model takes and gives, read from its ONNX session: either one float32 input
 * {@code [N, ...]} (images, feature vectors) or several int64 inputs {@code [N, S]} (token ids and
 * masks of a text model), and one float32 output {@code [N, classes]} (the logits). Shapes use -1
 * for dynamic dimensions.
 */
public record ModelSignature(List<Input> inputs, String outputName, List<Long> outputShape) {

  /** The element types Graft serves. */
  public enum DataType {
    FLOAT,
    INT64
  }

  /** One input tensor: its name, element type and shape (-1 = dynamic). */
  public record Input(String name, DataType type, List<Long> shape) {
    public Input {
      shape = List.copyOf(shape);
    }
  }

  public ModelSignature {
    inputs = List.copyOf(inputs);
    outputShape = List.copyOf(outputShape);
  }

  /** A float model's signature. */
  public ModelSignature(
      String inputName, List<Long> inputShape, String outputName, List<Long> outputShape) {
    this(List.of(new Input(inputName, DataType.FLOAT, inputShape)), outputName, outputShape);
  }

  /** Whether the model takes int64 token tensors (several inputs) rather than one float tensor. */
  public boolean tokens() {
    return inputs.get(0).type() == DataType.INT64;
  }

  /** The first (for float models: the only) input's name. */
  public String inputName() {
    return inputs.get(0).name();
  }

  /** The first (for float models: the only) input's shape. */
  public List<Long> inputShape() {
    return inputs.get(0).shape();
  }

  /** The names of the inputs, in the session's order. */
  public List<String> inputNames() {
    return inputs.stream().map(Input::name).toList();
  }

  /** Floats per example of a float model. */
  public int rowSize() {
    long size = 1;
    for (int i = 1; i < inputShape().size(); i++) {
      size *= inputShape().get(i);
    }
    return Math.toIntExact(size);
  }

  /** Output values per example (the number of classes). */
  public int classes() {
    return Math.toIntExact(outputShape.get(1));
  }
}
