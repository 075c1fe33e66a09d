package dev.graft.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** A small ONNX graph builder for tests (the product's builder lives in dev.graft.model). */
final class TestGraphs {

  static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
  static final int INT64 = TensorProto.DataType.INT64_VALUE;

  final List<NodeProto> nodes = new ArrayList<>();
  final List<ValueInfoProto> inputs = new ArrayList<>();
  final List<ValueInfoProto> outputs = new ArrayList<>();
  final List<TensorProto> initializers = new ArrayList<>();
  int opset = 17;
  private final Random random;

  TestGraphs(long seed) {
    random = new Random(seed);
  }

  TestGraphs opset(int v) {
    opset = v;
    return this;
  }

  /** A graph input; a dimension of -1 becomes the symbolic "N". */
  TestGraphs input(String name, int type, long... dims) {
    inputs.add(valueInfo(name, type, dims));
    return this;
  }

  TestGraphs output(String name, int type) {
    outputs.add(
        ValueInfoProto.newBuilder()
            .setName(name)
            .setType(
                TypeProto.newBuilder()
                    .setTensorType(TypeProto.Tensor.newBuilder().setElemType(type)))
            .build());
    return this;
  }

  TestGraphs init(String name, long[] dims, float[] values) {
    initializers.add(OnnxTensors.floatTensor(name, dims, values));
    return this;
  }

  TestGraphs initRandom(String name, long... dims) {
    return init(name, dims, randoms((int) OnnxTensors.size(dims), 1f));
  }

  TestGraphs initLongs(String name, long[] dims, long... values) {
    initializers.add(OnnxTensors.longTensor(name, dims, values));
    return this;
  }

  TestGraphs node(String op, String name, String[] in, String[] out, AttributeProto... attrs) {
    NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(name);
    for (String i : in) {
      b.addInput(i);
    }
    for (String o : out) {
      b.addOutput(o);
    }
    for (AttributeProto a : attrs) {
      b.addAttribute(a);
    }
    nodes.add(b.build());
    return this;
  }

  ModelProto build() {
    GraphProto g =
        GraphProto.newBuilder()
            .setName("test")
            .addAllNode(nodes)
            .addAllInput(inputs)
            .addAllOutput(outputs)
            .addAllInitializer(initializers)
            .build();
    return ModelProto.newBuilder()
        .setIrVersion(opset >= 15 ? 8 : 7)
        .setProducerName("test")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
        .setGraph(g)
        .build();
  }

  float[] randoms(int n, float scale) {
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = (float) (random.nextGaussian() * scale);
    }
    return f;
  }

  static ValueInfoProto valueInfo(String name, int type, long... dims) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : dims) {
      s.addDim(
          d < 0
              ? TensorShapeProto.Dimension.newBuilder().setDimParam("N")
              : TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(
            TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(type).setShape(s)))
        .build();
  }

  static AttributeProto attr(String name, long v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.INT)
        .setI(v)
        .build();
  }

  static AttributeProto attr(String name, float v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.FLOAT)
        .setF(v)
        .build();
  }

  static AttributeProto attr(String name, String v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.STRING)
        .setS(ByteString.copyFromUtf8(v))
        .build();
  }

  static AttributeProto ints(String name, long... v) {
    AttributeProto.Builder b =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long x : v) {
      b.addInts(x);
    }
    return b.build();
  }

  static AttributeProto tensorAttr(String name, TensorProto t) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.TENSOR)
        .setT(t)
        .build();
  }

  static String[] s(String... names) {
    return names;
  }

  /**
   * conv(3x3, 4 ch) + BN + relu + maxpool + flatten + gemm(classes), input (N,2,8,8): the
   * hand-built graph of the whole-block tests.
   */
  static ModelProto convNet(long seed, int classes) {
    TestGraphs g = new TestGraphs(seed);
    g.input("x", FLOAT, -1, 2, 8, 8).output("logits", FLOAT);
    g.init("conv.weight", new long[] {4, 2, 3, 3}, g.randoms(72, 0.3f));
    g.init("conv.bias", new long[] {4}, g.randoms(4, 0.1f));
    g.init("bn.weight", new long[] {4}, new float[] {1f, 0.9f, 1.1f, 1f});
    g.init("bn.bias", new long[] {4}, g.randoms(4, 0.1f));
    g.init("bn.running_mean", new long[] {4}, g.randoms(4, 0.1f));
    g.init("bn.running_var", new long[] {4}, new float[] {1f, 0.5f, 1.5f, 2f});
    g.init("fc.weight", new long[] {classes, 64}, g.randoms(classes * 64, 0.1f));
    g.init("fc.bias", new long[] {classes}, g.randoms(classes, 0.1f));
    g.node("Conv", "conv", s("x", "conv.weight", "conv.bias"), s("c1"), ints("pads", 1, 1, 1, 1));
    g.node(
        "BatchNormalization",
        "bn",
        s("c1", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"),
        s("b1"),
        attr("momentum", 0.9f));
    g.node("Relu", "relu", s("b1"), s("r1"));
    g.node("MaxPool", "pool", s("r1"), s("p1"), ints("kernel_shape", 2, 2), ints("strides", 2, 2));
    g.node("Flatten", "flatten", s("p1"), s("f1"));
    g.node("Gemm", "fc", s("f1", "fc.weight", "fc.bias"), s("logits"), attr("transB", 1L));
    return g.build();
  }
}
