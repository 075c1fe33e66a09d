package dev.graft.onnx;

import java.util.Set;
import java.util.TreeSet;

/**
 * The ONNX operators (default domain, opset 17 semantics) that {@link OnnxBlock} executes: enough
 * for CNNs exported by PyTorch/Keras and for BERT-family encoders exported by PyTorch, whose
 * LayerNorm (ReduceMean, Sub, Pow, Sqrt, Div before opset 17, LayerNormalization from 17), GELU
 * (Erf) and attention-mask arithmetic decompose into them; the pre-trained all-MiniLM-L6-v2 export
 * (opset 11) uses 19 of them and runs within 1e-4 of ONNX Runtime (MiniLmImportTest).
 */
public final class SupportedOps {

  /** Sorted, so that error messages list them in a stable order. */
  public static final Set<String> NAMES =
      java.util.Collections.unmodifiableSet(
          new TreeSet<>(
              Set.of(
                  "Add",
                  "AveragePool",
                  "BatchNormalization",
                  "Cast",
                  "Clip",
                  "Concat",
                  "Constant",
                  "Conv",
                  "Div",
                  "Dropout",
                  "Erf",
                  "Flatten",
                  "Gather",
                  "Gemm",
                  "GlobalAveragePool",
                  "Identity",
                  "LayerNormalization",
                  "LeakyRelu",
                  "MatMul",
                  "MaxPool",
                  "Mul",
                  "Pad",
                  "Pow",
                  "ReduceMean",
                  "ReduceSum",
                  "Relu",
                  "Reshape",
                  "Shape",
                  "Sigmoid",
                  "Slice",
                  "Softmax",
                  "Sqrt",
                  "Squeeze",
                  "Sub",
                  "Tanh",
                  "Transpose",
                  "Unsqueeze")));

  /** The lowest and highest default-domain opsets accepted on import. */
  public static final int MIN_OPSET = 11;

  public static final int MAX_OPSET = 17;

  /** The opset every graph is normalised to and exported at. */
  public static final int TARGET_OPSET = 17;

  /** The IR version that goes with opset 17. */
  public static final long TARGET_IR_VERSION = 8;

  private SupportedOps() {}

  public static boolean isSupported(String domain, String opType) {
    return (domain.isEmpty() || domain.equals("ai.onnx")) && NAMES.contains(opType);
  }
}
