package dev.graft.onnx;

import static dev.graft.onnx.TestGraphs.FLOAT;
import static dev.graft.onnx.TestGraphs.s;
import static dev.graft.onnx.TestGraphs.tensorAttr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.core.GraftException;
import dev.graft.model.GraphChecks;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Graph normalisation at import: untying, constant folding, BatchNorm inputs as initializers. */
class GraphNormalizerTest {

  private static final long[] X = {2, 3, 2, 2};

  private static TensorProto floats(float... v) {
    return OnnxTensors.floatTensor("", new long[] {v.length}, v);
  }

  /**
   * bn1 reads its statistics through Identity nodes from its own bias and scale (as PyTorch
   * de-duplicates them); bn2 reads a mean computed from Constants (Constant * Constant) and a
   * variance through an Identity of a Constant.
   */
  private static ModelProto routed() {
    TestGraphs g = new TestGraphs(1);
    g.input("x", FLOAT, X)
        .output("y", FLOAT)
        .init("bn1.weight", new long[] {3}, new float[] {1, 1, 1})
        .init("bn1.bias", new long[] {3}, new float[] {0, 0, 0})
        .node("Identity", "/Identity", s("bn1.bias"), s("bn1.running_mean"))
        .node("Identity", "/Identity_1", s("bn1.weight"), s("bn1.running_var"))
        .node(
            "BatchNormalization",
            "/bn1/BatchNormalization",
            s("x", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"),
            s("h"))
        .init("bn2.weight", new long[] {3}, new float[] {2, 1, 0.5f})
        .init("bn2.bias", new long[] {3}, new float[] {0.1f, 0.2f, 0.3f})
        .node("Constant", "/c1", s(), s("c1"), tensorAttr("value", floats(1, 2, 3)))
        .node("Constant", "/c2", s(), s("c2"), tensorAttr("value", floats(0.5f, 0.5f, 0.5f)))
        .node("Mul", "/Mul", s("c1", "c2"), s("bn2.running_mean"))
        .node("Constant", "/c3", s(), s("c3"), tensorAttr("value", floats(4, 1, 0.25f)))
        .node("Identity", "/Identity_2", s("c3"), s("bn2.running_var"))
        .node(
            "BatchNormalization",
            "/bn2/BatchNormalization",
            s("h", "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var"),
            s("y"));
    return g.build();
  }

  private static Map<String, TensorProto> initializers(ModelProto m) {
    return m.getGraph().getInitializerList().stream()
        .collect(Collectors.toMap(TensorProto::getName, t -> t));
  }

  @Test
  void routedAndConstantStatisticsBecomeInitializersOfTheirOwnComputingTheSame() throws Exception {
    ModelProto original = routed();
    ModelProto imported = OnnxImport.normalise(original);

    assertEquals(
        List.of("BatchNormalization", "BatchNormalization"),
        imported.getGraph().getNodeList().stream().map(NodeProto::getOpType).toList(),
        "Identity, Constant and the folded Mul are gone");
    assertEquals(List.of(), GraphChecks.problems(imported));
    Map<String, TensorProto> init = initializers(imported);
    assertArrayEquals(new float[] {0, 0, 0}, OnnxTensors.floats(init.get("bn1.running_mean")));
    assertArrayEquals(new float[] {1, 1, 1}, OnnxTensors.floats(init.get("bn1.running_var")));
    assertArrayEquals(
        new float[] {0.5f, 1, 1.5f}, OnnxTensors.floats(init.get("bn2.running_mean")));
    assertArrayEquals(new float[] {4, 1, 0.25f}, OnnxTensors.floats(init.get("bn2.running_var")));
    assertEquals(imported, OnnxImport.normalise(imported), "normalising twice changes nothing");

    float[] x = new float[24];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) Math.sin(i) * 3;
    }
    float[] expected = ort(original, x);
    OnnxBlock block = new OnnxBlock(imported, n -> true);
    try (NDManager m = NDManager.newBaseManager()) {
      block.initialize(m, DataType.FLOAT32, new Shape(X));
      float[] actual =
          block
              .forward(new ParameterStore(m, false), new NDList(m.create(x, new Shape(X))), false)
              .head()
              .toFloatArray();
      assertArrayEquals(expected, actual, 1e-5f);
      // A training pass moves bn1's statistics, never the bias they were routed from.
      block.forward(new ParameterStore(m, false), new NDList(m.create(x, new Shape(X))), true);
      assertArrayEquals(
          new float[] {0, 0, 0}, block.parameter("bn1.bias").getArray().toFloatArray());
      assertNotEquals(
          0f, block.parameter("bn1.running_mean").getArray().abs().sum().getFloat(), "updated");
    }
  }

  @Test
  void oneStatisticReadByTwoLayersIsCopiedForEach() {
    TestGraphs g = new TestGraphs(2);
    g.input("x", FLOAT, X)
        .output("y", FLOAT)
        .init("scale", new long[] {3}, new float[] {1, 2, 3})
        .init("shift", new long[] {3}, new float[] {0, 1, 0})
        .init("stats", new long[] {3}, new float[] {0.5f, 0.5f, 0.5f})
        .node("BatchNormalization", "a", s("x", "scale", "shift", "stats", "stats"), s("h"))
        .node("BatchNormalization", "b", s("h", "scale", "shift", "stats", "stats"), s("y"));
    ModelProto imported = OnnxImport.normalise(g.build());
    List<String> statistics =
        imported.getGraph().getNodeList().stream()
            .flatMap(n -> n.getInputList().subList(3, 5).stream())
            .toList();
    assertEquals(4, statistics.stream().distinct().count(), statistics.toString());
    for (String s : statistics) {
      assertArrayEquals(
          new float[] {0.5f, 0.5f, 0.5f}, OnnxTensors.floats(initializers(imported).get(s)));
    }
    assertEquals(List.of(), GraphChecks.problems(imported));
  }

  @Test
  void statisticComputedFromWeightsIsRefusedNamingTheNode() {
    TestGraphs g = new TestGraphs(3);
    g.input("x", FLOAT, X)
        .output("y", FLOAT)
        .init("w", new long[] {3}, new float[] {1, 2, 3})
        .node("Sub", "/Sub", s("w", "w"), s("mean"))
        .node(
            "BatchNormalization", "/bn/BatchNormalization", s("x", "w", "w", "mean", "w"), s("y"));
    GraftException.InvalidArgument e =
        assertThrows(GraftException.InvalidArgument.class, () -> OnnxImport.normalise(g.build()));
    assertTrue(
        e.getMessage()
            .startsWith(
                "BatchNormalization node '/bn/BatchNormalization' takes its running mean from"
                    + " 'mean', which is computed by the graph"),
        e.getMessage());
  }

  private static float[] ort(ModelProto model, float[] x) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(model.toByteArray(), options);
        OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), X);
        OrtSession.Result r = session.run(Map.of("x", in))) {
      FloatBuffer b = ((OnnxTensor) r.get(0)).getFloatBuffer();
      float[] out = new float[b.remaining()];
      b.get(out);
      return out;
    }
  }
}
