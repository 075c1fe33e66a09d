package dev.graft.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.ParityGate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a run checks on a base model before its first batch, done at import so that a model that
 * every run would refuse is never stored: the example shape fits the input's fixed dimensions, and
 * the backbone with a small head runs a zero batch forward and backward through {@link OnnxBlock}
 * (in training mode, gradients for every weight) and forward through ONNX Runtime, with the same
 * logits.
 */
final class ImportTrial {

  /** Examples in the trial batch: two, so that BatchNormalization has batch statistics. */
  static final int BATCH = 2;

  /** Largest difference accepted between Graft's executor and ONNX Runtime on the zero batch. */
  static final double TOLERANCE = 1e-3;

  private ImportTrial() {}

  /**
   * @param backbone the imported graph cut at the feature tensor
   * @param featureTensor where the head is grafted
   * @param exampleShape one example as a run feeds it (from the preprocessing or input shape)
   * @param input how the client knows the input: names what to change in errors
   */
  static void run(
      ModelProto backbone, String featureTensor, long[] exampleShape, ValueInfoProto input) {
    requireFits(exampleShape, input);
    ModelProto grafted =
        GraphSurgery.appendHead(
            backbone, featureTensor, new HeadSpec(List.of(), HeadSpec.Activation.RELU, 0f, 2), 0);
    OnnxBlock block = new OnnxBlock(grafted, name -> true);
    long[] batchShape = new long[exampleShape.length + 1];
    batchShape[0] = BATCH;
    System.arraycopy(exampleShape, 0, batchShape, 1, exampleShape.length);
    try (NDManager manager = NDManager.newBaseManager()) {
      Shape shape = new Shape(batchShape);
      block.initialize(manager, DataType.FLOAT32, shape);
      try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        NDArray logits =
            block
                .forward(new ParameterStore(manager, false), new NDList(manager.zeros(shape)), true)
                .head();
        collector.backward(logits.sum());
      } catch (GraftException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new GraftException.InvalidArgument(
            "the model cannot train: a trial step on a zero batch of shape "
                + shape
                + " failed in Graft's executor: "
                + e.getMessage(),
            e);
      }
      ParityGate.Result parity =
          ParityGate.check(
              block,
              new NDList(manager.zeros(shape)),
              block.toModelProto().toByteArray(),
              "the model with a trial head",
              TOLERANCE);
      if (!parity.passed()) {
        throw new GraftException.InvalidArgument(
            "the model computes differently in Graft's executor and in ONNX Runtime on a zero"
                + " batch: output '"
                + parity.worstOutput()
                + "' differs by "
                + parity.maxAbsDiff()
                + " (tolerance "
                + TOLERANCE
                + "); re-export it at opset 17 with the operators Graft supports");
      }
    }
  }

  /** Every fixed dimension of the input (the batch aside) must be the example's. */
  private static void requireFits(long[] example, ValueInfoProto input) {
    List<TensorShapeProto.Dimension> dims = input.getType().getTensorType().getShape().getDimList();
    if (dims.isEmpty()) {
      return;
    }
    List<String> declared = new ArrayList<>();
    for (TensorShapeProto.Dimension d : dims) {
      declared.add(d.hasDimValue() ? String.valueOf(d.getDimValue()) : d.getDimParam());
    }
    boolean fits = dims.size() == example.length + 1;
    for (int i = 1; fits && i < dims.size(); i++) {
      fits = !dims.get(i).hasDimValue() || dims.get(i).getDimValue() == example[i - 1];
    }
    if (!fits) {
      String size = String.join("x", Arrays.stream(example).mapToObj(Long::toString).toList());
      String fix =
          example.length == 3
              ? "set the preprocessing's channels, height and width to the input's, or export the"
                  + " model with dynamic height and width (dynamic_axes)"
              : "set input_shape to the input's dimensions after the batch";
      throw new GraftException.InvalidArgument(
          "runs would feed examples of "
              + size
              + " but the model's input '"
              + input.getName()
              + "' has the fixed shape "
              + declared
              + ": "
              + fix);
    }
  }
}
