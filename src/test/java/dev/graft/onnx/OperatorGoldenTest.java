package dev.graft.onnx;

import static dev.graft.onnx.TestGraphs.FLOAT;
import static dev.graft.onnx.TestGraphs.INT64;
import static dev.graft.onnx.TestGraphs.attr;
import static dev.graft.onnx.TestGraphs.ints;
import static dev.graft.onnx.TestGraphs.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each supported operator against ONNX Runtime on a one-node (or tiny) graph. */
class OperatorGoldenTest {

  private static NDManager manager;

  @BeforeAll
  static void setUp() {
    manager = NDManager.newBaseManager();
  }

  @AfterAll
  static void tearDown() {
    manager.close();
  }

  /** A graph plus its input values; inputs named in {@code longInputs} are int64. */
  record Case(String name, ModelProto model, Map<String, Object> feeds) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Case one(String name, Consumer<TestGraphs> build, long[]... inputShapes) {
    TestGraphs g = new TestGraphs(name.hashCode());
    build.accept(g);
    ModelProto m = g.build();
    Map<String, Object> feeds = new LinkedHashMap<>();
    Random r = new Random(name.hashCode());
    int i = 0;
    for (ValueInfoProto v : m.getGraph().getInputList()) {
      long[] shape = inputShapes[i++];
      int n = (int) OnnxTensors.size(shape);
      if (v.getType().getTensorType().getElemType() == INT64) {
        long[] vals = new long[n];
        for (int k = 0; k < n; k++) {
          vals[k] = r.nextInt(4) - (name.contains("negative") ? 2 : 0);
        }
        feeds.put(v.getName(), new Object[] {vals, shape});
      } else {
        float[] vals = new float[n];
        for (int k = 0; k < n; k++) {
          vals[k] = (float) r.nextGaussian();
        }
        if (name.startsWith("Sqrt") || name.startsWith("Pow")) {
          for (int k = 0; k < n; k++) {
            vals[k] = Math.abs(vals[k]) + 0.1f;
          }
        }
        feeds.put(v.getName(), new Object[] {vals, shape});
      }
    }
    return new Case(name, m, feeds);
  }

  private static long[] d(long... dims) {
    return dims;
  }

  static Stream<Arguments> cases() {
    List<Case> c = new ArrayList<>();
    for (String op : List.of("Relu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Identity")) {
      c.add(
          one(
              op,
              g -> g.input("x", FLOAT, 2, 3, 4).output("y", FLOAT).node(op, "n", s("x"), s("y")),
              d(2, 3, 4)));
    }
    c.add(
        one(
            "LeakyRelu alpha 0.2",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .output("y", FLOAT)
                    .node("LeakyRelu", "n", s("x"), s("y"), attr("alpha", 0.2f)),
            d(2, 3, 4)));
    c.add(
        one(
            "Clip relu6 from initializers",
            g ->
                g.input("x", FLOAT, 2, 8)
                    .output("y", FLOAT)
                    .init("lo", d(), new float[] {0f})
                    .init("hi", d(), new float[] {0.5f})
                    .node("Clip", "n", s("x", "lo", "hi"), s("y")),
            d(2, 8)));
    c.add(
        one(
            "Clip min only",
            g ->
                g.input("x", FLOAT, 2, 8)
                    .output("y", FLOAT)
                    .init("lo", d(), new float[] {-0.1f})
                    .node("Clip", "n", s("x", "lo"), s("y")),
            d(2, 8)));
    c.add(
        one(
            "Softmax default axis",
            g ->
                g.input("x", FLOAT, 2, 3, 5)
                    .output("y", FLOAT)
                    .node("Softmax", "n", s("x"), s("y")),
            d(2, 3, 5)));
    c.add(
        one(
            "Softmax axis 1",
            g ->
                g.input("x", FLOAT, 2, 3, 5)
                    .output("y", FLOAT)
                    .node("Softmax", "n", s("x"), s("y"), attr("axis", 1L)),
            d(2, 3, 5)));
    c.add(
        one(
            "Softmax opset 11 axis 1 coerces to 2-D",
            g ->
                g.opset(11)
                    .input("x", FLOAT, 2, 3, 5)
                    .output("y", FLOAT)
                    .node("Softmax", "n", s("x"), s("y"), attr("axis", 1L)),
            d(2, 3, 5)));
    for (String op : List.of("Add", "Sub", "Mul", "Div", "Pow")) {
      c.add(
          one(
              op + " broadcast",
              g ->
                  g.input("a", FLOAT, 2, 3, 4)
                      .input("b", FLOAT, 3, 1)
                      .output("y", FLOAT)
                      .node(op, "n", s("a", "b"), s("y")),
              d(2, 3, 4),
              d(3, 1)));
      c.add(
          one(
              op + " with scalar initializer on the left",
              g ->
                  g.input("b", FLOAT, 2, 3)
                      .init("a", d(), new float[] {1.5f})
                      .output("y", FLOAT)
                      .node(op, "n", s("a", "b"), s("y")),
              d(2, 3)));
    }
    c.add(
        one(
            "Pow by constant 2",
            g ->
                g.input("x", FLOAT, 4, 5)
                    .output("y", FLOAT)
                    .node(
                        "Constant",
                        "k",
                        s(),
                        s("two"),
                        TestGraphs.tensorAttr(
                            "value", OnnxTensors.floatTensor("two", d(), new float[] {2f})))
                    .node("Pow", "n", s("x", "two"), s("y")),
            d(4, 5)));
    c.add(
        one(
            "MatMul 2-D",
            g ->
                g.input("a", FLOAT, 3, 4)
                    .initRandom("w", 4, 5)
                    .output("y", FLOAT)
                    .node("MatMul", "n", s("a", "w"), s("y")),
            d(3, 4)));
    c.add(
        one(
            "MatMul 3-D by 2-D as in BERT",
            g ->
                g.input("a", FLOAT, 2, 3, 4)
                    .initRandom("w", 4, 6)
                    .output("y", FLOAT)
                    .node("MatMul", "n", s("a", "w"), s("y")),
            d(2, 3, 4)));
    c.add(
        one(
            "MatMul batched 4-D",
            g ->
                g.input("a", FLOAT, 2, 2, 3, 4)
                    .input("b", FLOAT, 2, 2, 4, 3)
                    .output("y", FLOAT)
                    .node("MatMul", "n", s("a", "b"), s("y")),
            d(2, 2, 3, 4),
            d(2, 2, 4, 3)));
    c.add(
        one(
            "Gemm transB with bias",
            g ->
                g.input("a", FLOAT, 3, 4)
                    .initRandom("w", 5, 4)
                    .initRandom("b", 5)
                    .output("y", FLOAT)
                    .node("Gemm", "n", s("a", "w", "b"), s("y"), attr("transB", 1L)),
            d(3, 4)));
    c.add(
        one(
            "Gemm transA alpha beta matrix C",
            g ->
                g.input("a", FLOAT, 4, 3)
                    .initRandom("w", 4, 5)
                    .initRandom("b", 3, 5)
                    .output("y", FLOAT)
                    .node(
                        "Gemm",
                        "n",
                        s("a", "w", "b"),
                        s("y"),
                        attr("transA", 1L),
                        attr("alpha", 0.5f),
                        attr("beta", 2f)),
            d(4, 3)));
    c.add(
        one(
            "Gemm row C broadcast no trans",
            g ->
                g.input("a", FLOAT, 3, 4)
                    .initRandom("w", 4, 5)
                    .initRandom("b", 1, 5)
                    .output("y", FLOAT)
                    .node("Gemm", "n", s("a", "w", "b"), s("y")),
            d(3, 4)));
    for (long axis : new long[] {0, 1, 2, -1}) {
      c.add(
          one(
              "Flatten axis " + axis,
              g ->
                  g.input("x", FLOAT, 2, 3, 4)
                      .output("y", FLOAT)
                      .node("Flatten", "n", s("x"), s("y"), attr("axis", axis)),
              d(2, 3, 4)));
    }
    c.add(
        one(
            "Reshape with 0 and -1",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .initLongs("shape", d(3), 0, -1, 2)
                    .output("y", FLOAT)
                    .node("Reshape", "n", s("x", "shape"), s("y")),
            d(2, 3, 4)));
    c.add(
        one(
            "Transpose perm",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .output("y", FLOAT)
                    .node("Transpose", "n", s("x"), s("y"), ints("perm", 0, 2, 1)),
            d(2, 3, 4)));
    c.add(
        one(
            "Transpose default reverses",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .output("y", FLOAT)
                    .node("Transpose", "n", s("x"), s("y")),
            d(2, 3, 4)));
    c.add(
        one(
            "Squeeze axes",
            g ->
                g.input("x", FLOAT, 2, 1, 4, 1)
                    .initLongs("axes", d(2), 1, -1)
                    .output("y", FLOAT)
                    .node("Squeeze", "n", s("x", "axes"), s("y")),
            d(2, 1, 4, 1)));
    c.add(
        one(
            "Squeeze opset 11 attribute",
            g ->
                g.opset(11)
                    .input("x", FLOAT, 2, 1, 4)
                    .output("y", FLOAT)
                    .node("Squeeze", "n", s("x"), s("y"), ints("axes", 1)),
            d(2, 1, 4)));
    c.add(
        one(
            "Unsqueeze axes",
            g ->
                g.input("x", FLOAT, 2, 4)
                    .initLongs("axes", d(2), 0, -1)
                    .output("y", FLOAT)
                    .node("Unsqueeze", "n", s("x", "axes"), s("y")),
            d(2, 4)));
    c.add(
        one(
            "Unsqueeze opset 12 attribute",
            g ->
                g.opset(12)
                    .input("x", FLOAT, 2, 4)
                    .output("y", FLOAT)
                    .node("Unsqueeze", "n", s("x"), s("y"), ints("axes", 1)),
            d(2, 4)));
    c.add(
        one(
            "Concat axis 1",
            g ->
                g.input("a", FLOAT, 2, 3, 2)
                    .input("b", FLOAT, 2, 1, 2)
                    .output("y", FLOAT)
                    .node("Concat", "n", s("a", "b"), s("y"), attr("axis", 1L)),
            d(2, 3, 2),
            d(2, 1, 2)));
    c.add(
        one(
            "Concat axis -1",
            g ->
                g.input("a", FLOAT, 2, 3)
                    .input("b", FLOAT, 2, 2)
                    .output("y", FLOAT)
                    .node("Concat", "n", s("a", "b"), s("y"), attr("axis", -1L)),
            d(2, 3),
            d(2, 2)));
    c.add(
        one(
            "Slice negative starts and INT64_MAX ends with steps",
            g ->
                g.input("x", FLOAT, 4, 10, 6)
                    .initLongs("st", d(2), -8, 1)
                    .initLongs("en", d(2), Long.MAX_VALUE, -1)
                    .initLongs("ax", d(2), 1, 2)
                    .initLongs("sp", d(2), 2, 1)
                    .output("y", FLOAT)
                    .node("Slice", "n", s("x", "st", "en", "ax", "sp"), s("y")),
            d(4, 10, 6)));
    c.add(
        one(
            "Slice negative step reverses",
            g ->
                g.input("x", FLOAT, 3, 7)
                    .initLongs("st", d(1), -2)
                    .initLongs("en", d(1), Long.MIN_VALUE)
                    .initLongs("ax", d(1), 1)
                    .initLongs("sp", d(1), -2)
                    .output("y", FLOAT)
                    .node("Slice", "n", s("x", "st", "en", "ax", "sp"), s("y")),
            d(3, 7)));
    c.add(
        one(
            "Slice without axes",
            g ->
                g.input("x", FLOAT, 5, 4)
                    .initLongs("st", d(2), 1, 0)
                    .initLongs("en", d(2), 3, 2)
                    .output("y", FLOAT)
                    .node("Slice", "n", s("x", "st", "en"), s("y")),
            d(5, 4)));
    c.add(
        one(
            "Gather axis 0 negative indices",
            g ->
                g.input("x", FLOAT, 5, 3)
                    .initLongs("i", d(2, 2), 0, -1, 2, -5)
                    .output("y", FLOAT)
                    .node("Gather", "n", s("x", "i"), s("y")),
            d(5, 3)));
    c.add(
        one(
            "Gather scalar index axis 1",
            g ->
                g.input("x", FLOAT, 2, 4, 3)
                    .initLongs("i", d(), -2)
                    .output("y", FLOAT)
                    .node("Gather", "n", s("x", "i"), s("y"), attr("axis", 1L)),
            d(2, 4, 3)));
    c.add(
        one(
            "Gather embedding by input ids",
            g ->
                g.initRandom("emb", 6, 4)
                    .input("ids", INT64, 2, 3)
                    .output("y", FLOAT)
                    .node("Gather", "n", s("emb", "ids"), s("y")),
            d(2, 3)));
    c.add(
        one(
            "Gather negative ids",
            g ->
                g.initRandom("emb", 6, 4)
                    .input("ids", INT64, 2, 3)
                    .output("y", FLOAT)
                    .node("Gather", "n", s("emb", "ids"), s("y")),
            d(2, 3)));
    c.add(
        one(
            "Shape",
            g -> g.input("x", FLOAT, 2, 3, 4).output("y", INT64).node("Shape", "n", s("x"), s("y")),
            d(2, 3, 4)));
    c.add(
        one(
            "Shape start end",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .output("y", INT64)
                    .node("Shape", "n", s("x"), s("y"), attr("start", 1L), attr("end", -1L)),
            d(2, 3, 4)));
    c.add(
        one(
            "Cast float to int64",
            g ->
                g.input("x", FLOAT, 3, 4)
                    .output("y", INT64)
                    .node("Cast", "n", s("x"), s("y"), attr("to", (long) INT64)),
            d(3, 4)));
    c.add(
        one(
            "Cast int64 to float",
            g ->
                g.input("x", INT64, 3, 4)
                    .output("y", FLOAT)
                    .node("Cast", "n", s("x"), s("y"), attr("to", (long) FLOAT)),
            d(3, 4)));
    c.add(
        one(
            "ReduceMean axis 1 no keepdims",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .output("y", FLOAT)
                    .node("ReduceMean", "n", s("x"), s("y"), ints("axes", 1), attr("keepdims", 0L)),
            d(2, 3, 4)));
    c.add(
        one(
            "ReduceMean all axes",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .output("y", FLOAT)
                    .node("ReduceMean", "n", s("x"), s("y")),
            d(2, 3, 4)));
    c.add(
        one(
            "ReduceSum axis 1 no keepdims",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .initLongs("axes", d(1), 1)
                    .output("y", FLOAT)
                    .node("ReduceSum", "n", s("x", "axes"), s("y"), attr("keepdims", 0L)),
            d(2, 3, 4)));
    c.add(
        one(
            "ReduceSum two axes keepdims",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .initLongs("axes", d(2), -1, 0)
                    .output("y", FLOAT)
                    .node("ReduceSum", "n", s("x", "axes"), s("y")),
            d(2, 3, 4)));
    c.add(
        one(
            "ReduceSum all axes",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .output("y", FLOAT)
                    .node("ReduceSum", "n", s("x"), s("y"), attr("keepdims", 0L)),
            d(2, 3, 4)));
    c.add(
        one(
            "ReduceSum opset 12 attribute",
            g ->
                g.opset(12)
                    .input("x", FLOAT, 2, 3, 4)
                    .output("y", FLOAT)
                    .node("ReduceSum", "n", s("x"), s("y"), ints("axes", 1)),
            d(2, 3, 4)));
    c.add(
        one(
            "LayerNormalization last axis",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .init("scale", new long[] {4}, new float[] {1f, 0.5f, -2f, 3f})
                    .init("bias", new long[] {4}, new float[] {0.1f, 0f, -0.3f, 2f})
                    .output("y", FLOAT)
                    .node(
                        "LayerNormalization",
                        "n",
                        s("x", "scale", "bias"),
                        s("y"),
                        attr("epsilon", 1e-3f)),
            d(2, 3, 4)));
    c.add(
        one(
            "LayerNormalization from axis 1 without bias",
            g ->
                g.input("x", FLOAT, 2, 3, 4)
                    .init(
                        "scale",
                        new long[] {3, 4},
                        new float[] {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6})
                    .output("y", FLOAT)
                    .node("LayerNormalization", "n", s("x", "scale"), s("y"), attr("axis", 1L)),
            d(2, 3, 4)));
    c.add(
        one(
            "GlobalAveragePool",
            g ->
                g.input("x", FLOAT, 2, 3, 5, 4)
                    .output("y", FLOAT)
                    .node("GlobalAveragePool", "n", s("x"), s("y")),
            d(2, 3, 5, 4)));
    for (long include : new long[] {0, 1}) {
      c.add(
          one(
              "AveragePool pads count_include_pad " + include,
              g ->
                  g.input("x", FLOAT, 1, 2, 7, 7)
                      .output("y", FLOAT)
                      .node(
                          "AveragePool",
                          "n",
                          s("x"),
                          s("y"),
                          ints("kernel_shape", 3, 3),
                          ints("strides", 2, 2),
                          ints("pads", 1, 1, 1, 1),
                          attr("count_include_pad", include)),
              d(1, 2, 7, 7)));
      c.add(
          one(
              "AveragePool asymmetric pads count_include_pad " + include,
              g ->
                  g.input("x", FLOAT, 1, 2, 6, 6)
                      .output("y", FLOAT)
                      .node(
                          "AveragePool",
                          "n",
                          s("x"),
                          s("y"),
                          ints("kernel_shape", 3, 3),
                          ints("strides", 2, 2),
                          ints("pads", 0, 0, 1, 1),
                          attr("count_include_pad", include)),
              d(1, 2, 6, 6)));
    }
    c.add(
        one(
            "MaxPool 3x3 stride 2 pad 1",
            g ->
                g.input("x", FLOAT, 2, 3, 9, 9)
                    .output("y", FLOAT)
                    .node(
                        "MaxPool",
                        "n",
                        s("x"),
                        s("y"),
                        ints("kernel_shape", 3, 3),
                        ints("strides", 2, 2),
                        ints("pads", 1, 1, 1, 1)),
            d(2, 3, 9, 9)));
    c.add(
        one(
            "MaxPool ceil_mode",
            g ->
                g.input("x", FLOAT, 1, 2, 8, 8)
                    .output("y", FLOAT)
                    .node(
                        "MaxPool",
                        "n",
                        s("x"),
                        s("y"),
                        ints("kernel_shape", 3, 3),
                        ints("strides", 2, 2),
                        attr("ceil_mode", 1L)),
            d(1, 2, 8, 8)));
    c.add(
        one(
            "MaxPool SAME_UPPER",
            g ->
                g.input("x", FLOAT, 1, 2, 8, 8)
                    .output("y", FLOAT)
                    .node(
                        "MaxPool",
                        "n",
                        s("x"),
                        s("y"),
                        ints("kernel_shape", 2, 2),
                        ints("strides", 2, 2),
                        attr("auto_pad", "SAME_UPPER")),
            d(1, 2, 8, 8)));
    c.add(
        one(
            "MaxPool 1-D",
            g ->
                g.input("x", FLOAT, 2, 3, 9)
                    .output("y", FLOAT)
                    .node(
                        "MaxPool",
                        "n",
                        s("x"),
                        s("y"),
                        ints("kernel_shape", 3),
                        ints("strides", 2)),
            d(2, 3, 9)));
    c.add(
        one(
            "Pad constant value",
            g ->
                g.input("x", FLOAT, 1, 2, 3, 3)
                    .initLongs("p", d(8), 0, 0, 1, 2, 0, 0, 2, 0)
                    .init("v", d(), new float[] {1.5f})
                    .output("y", FLOAT)
                    .node("Pad", "n", s("x", "p", "v"), s("y")),
            d(1, 2, 3, 3)));
    c.add(
        one(
            "Dropout is identity in inference",
            g ->
                g.input("x", FLOAT, 3, 4)
                    .init("r", d(), new float[] {0.3f})
                    .output("y", FLOAT)
                    .node("Dropout", "n", s("x", "r"), s("y")),
            d(3, 4)));
    c.add(
        one(
            "Dropout opset 11 ratio attribute",
            g ->
                g.opset(11)
                    .input("x", FLOAT, 3, 4)
                    .output("y", FLOAT)
                    .node("Dropout", "n", s("x"), s("y"), attr("ratio", 0.3f)),
            d(3, 4)));
    c.add(
        one(
            "BatchNormalization inference",
            g ->
                g.input("x", FLOAT, 2, 3, 4, 4)
                    .initRandom("sc", 3)
                    .initRandom("b", 3)
                    .initRandom("m", 3)
                    .init("v", d(3), new float[] {0.5f, 1f, 2f})
                    .output("y", FLOAT)
                    .node(
                        "BatchNormalization",
                        "n",
                        s("x", "sc", "b", "m", "v"),
                        s("y"),
                        attr("epsilon", 1e-3f)),
            d(2, 3, 4, 4)));
    c.add(
        one(
            "Conv 3x3 pads 1 bias",
            g ->
                g.input("x", FLOAT, 2, 3, 6, 6)
                    .initRandom("w", 4, 3, 3, 3)
                    .initRandom("b", 4)
                    .output("y", FLOAT)
                    .node("Conv", "n", s("x", "w", "b"), s("y"), ints("pads", 1, 1, 1, 1)),
            d(2, 3, 6, 6)));
    c.add(
        one(
            "Conv stride 2 asymmetric pads no bias",
            g ->
                g.input("x", FLOAT, 1, 3, 7, 7)
                    .initRandom("w", 2, 3, 3, 3)
                    .output("y", FLOAT)
                    .node(
                        "Conv",
                        "n",
                        s("x", "w"),
                        s("y"),
                        ints("pads", 0, 0, 1, 1),
                        ints("strides", 2, 2)),
            d(1, 3, 7, 7)));
    c.add(
        one(
            "Conv groups 2",
            g ->
                g.input("x", FLOAT, 1, 4, 5, 5)
                    .initRandom("w", 6, 2, 3, 3)
                    .output("y", FLOAT)
                    .node("Conv", "n", s("x", "w"), s("y"), attr("group", 2L)),
            d(1, 4, 5, 5)));
    c.add(
        one(
            "Conv depthwise",
            g ->
                g.input("x", FLOAT, 2, 4, 6, 6)
                    .initRandom("w", 4, 1, 3, 3)
                    .initRandom("b", 4)
                    .output("y", FLOAT)
                    .node(
                        "Conv",
                        "n",
                        s("x", "w", "b"),
                        s("y"),
                        attr("group", 4L),
                        ints("pads", 1, 1, 1, 1)),
            d(2, 4, 6, 6)));
    for (String mode : List.of("SAME_UPPER", "SAME_LOWER", "VALID")) {
      c.add(
          one(
              "Conv auto_pad " + mode + " stride 2",
              g ->
                  g.input("x", FLOAT, 1, 2, 8, 8)
                      .initRandom("w", 3, 2, 4, 4)
                      .output("y", FLOAT)
                      .node(
                          "Conv",
                          "n",
                          s("x", "w"),
                          s("y"),
                          attr("auto_pad", mode),
                          ints("strides", 2, 2)),
              d(1, 2, 8, 8)));
    }
    c.add(
        one(
            "Conv dilations 2",
            g ->
                g.input("x", FLOAT, 1, 2, 9, 9)
                    .initRandom("w", 3, 2, 3, 3)
                    .output("y", FLOAT)
                    .node(
                        "Conv",
                        "n",
                        s("x", "w"),
                        s("y"),
                        ints("dilations", 2, 2),
                        ints("pads", 2, 2, 2, 2)),
            d(1, 2, 9, 9)));
    c.add(
        one(
            "Conv 1-D",
            g ->
                g.input("x", FLOAT, 2, 3, 10)
                    .initRandom("w", 4, 3, 3)
                    .output("y", FLOAT)
                    .node("Conv", "n", s("x", "w"), s("y"), ints("strides", 2)),
            d(2, 3, 10)));
    c.add(
        one(
            "Shape subgraph view(x.size(0), -1)",
            g ->
                g.input("x", FLOAT, -1, 2, 3)
                    .initLongs("zero", d(), 0)
                    .initLongs("ax0", d(1), 0)
                    .initLongs("minus1", d(1), -1)
                    .output("y", FLOAT)
                    .node("Shape", "shape", s("x"), s("s"))
                    .node("Gather", "gather", s("s", "zero"), s("n"), attr("axis", 0L))
                    .node("Unsqueeze", "unsq", s("n", "ax0"), s("n1"))
                    .node("Concat", "cat", s("n1", "minus1"), s("target"), attr("axis", 0L))
                    .node("Reshape", "reshape", s("x", "target"), s("y")),
            d(5, 2, 3)));
    c.add(
        one(
            "Constant value_ints feeding Reshape",
            g ->
                g.input("x", FLOAT, 2, 6)
                    .output("y", FLOAT)
                    .node("Constant", "k", s(), s("shape"), ints("value_ints", 3, 4))
                    .node("Reshape", "n", s("x", "shape"), s("y")),
            d(2, 6)));
    return c.stream().map(Arguments::of);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesOnnxRuntime(Case c) throws Exception {
    List<String> outputs = new ArrayList<>();
    c.model().getGraph().getOutputList().forEach(v -> outputs.add(v.getName()));
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    List<double[]> expected = new ArrayList<>();
    List<long[]> expectedShapes = new ArrayList<>();
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(c.model().toByteArray(), options)) {
      for (Map.Entry<String, Object> e : c.feeds().entrySet()) {
        Object[] f = (Object[]) e.getValue();
        feeds.put(e.getKey(), ortTensor(env, f));
      }
      try (OrtSession.Result r = session.run(feeds)) {
        for (String o : outputs) {
          OnnxTensor t = (OnnxTensor) r.get(o).orElseThrow();
          expected.add(ParityGate.values(t));
          expectedShapes.add(t.getInfo().getShape());
        }
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }

    try (NDManager m = manager.newSubManager()) {
      OnnxBlock block = new OnnxBlock(c.model(), n -> false);
      NDList in = new NDList();
      List<Shape> shapes = new ArrayList<>();
      for (Object v : c.feeds().values()) {
        Object[] f = (Object[]) v;
        long[] shape = (long[]) f[1];
        NDArray a =
            f[0] instanceof float[]
                ? m.create((float[]) f[0], new Shape(shape))
                : m.create((long[]) f[0], new Shape(shape));
        in.add(a);
        shapes.add(a.getShape());
      }
      block.initialize(m, DataType.FLOAT32, shapes.toArray(new Shape[0]));
      NDList out = block.forward(new ParameterStore(m, false), in, false);
      Shape[] inferred = block.getOutputShapes(shapes.toArray(new Shape[0]));
      for (int i = 0; i < outputs.size(); i++) {
        NDArray o = out.get(i);
        assertArrayEquals(expectedShapes.get(i), o.getShape().getShape(), "shape of " + c.name());
        assertArrayEquals(expectedShapes.get(i), inferred[i].getShape(), "inferred shape");
        double[] actual = o.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] want = expected.get(i);
        for (int k = 0; k < want.length; k++) {
          double tol = 1e-5 + 1e-5 * Math.abs(want[k]);
          assertTrue(
              Math.abs(actual[k] - want[k]) <= tol,
              c.name() + " element " + k + ": djl " + actual[k] + " vs ort " + want[k]);
        }
      }
    }
  }

  private static OnnxTensor ortTensor(OrtEnvironment env, Object[] f) throws Exception {
    long[] shape = (long[]) f[1];
    if (f[0] instanceof float[]) {
      return OnnxTensor.createTensor(env, java.nio.FloatBuffer.wrap((float[]) f[0]), shape);
    }
    return OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap((long[]) f[0]), shape);
  }
}
