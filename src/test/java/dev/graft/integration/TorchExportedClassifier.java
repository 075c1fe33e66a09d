package dev.graft.integration;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import dev.graft.model.GraphBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A classifier as {@code torch.onnx.export(model, x, opset_version=11, dynamic_axes=...)} writes it
 * for
 *
 * <pre>
 * features = Sequential(Conv2d(1, 8, 3, padding=1), ReLU(), MaxPool2d(2),
 *                       Conv2d(8, 16, 3, padding=1), BatchNorm2d(16), ReLU6())
 * classifier = Sequential(Linear(256, 32), ReLU(), Dropout(), Linear(32, 10))
 * forward: classifier(features(x).view(x.size(0), -1))
 * </pre>
 *
 * in eval mode: the BatchNorm is folded into the second conv ({@code onnx::Conv_7/8}), Dropout is
 * gone, ReLU6 is a Clip with Constant bounds, the view is Shape→Gather→Unsqueeze (axes as an
 * attribute, opset 11)→Concat→Reshape, nodes are named by module scope and the batch dimension is
 * {@code batch_size}.
 */
final class TorchExportedClassifier {

  static final String INPUT = "input";
  static final String OUTPUT = "output";
  static final String FLATTENED = "/Reshape_output_0";
  static final String LAST_FEATURE_MAP = "/features/features.5/Clip_output_0";
  static final int OPSET = 11;

  private TorchExportedClassifier() {}

  /**
   * @param initializersAsInputs also list every initializer as a graph input, as exports with
   *     {@code keep_initializers_as_inputs=True} (and older PyTorch versions) do
   */
  static ModelProto build(long seed, boolean initializersAsInputs) {
    SplittableRandom r = new SplittableRandom(seed);
    GraphBuilder g = new GraphBuilder("torch_jit", seed);
    String x = g.input(valueInfo(INPUT, 1, 8, 8));
    x = conv(g, r, "/features/features.0/Conv", x, "features.0.weight", "features.0.bias", 1, 8);
    x =
        g.node(
            "Relu", "/features/features.1/Relu", List.of(x), "/features/features.1/Relu_output_0");
    x =
        g.node(
            "MaxPool",
            "/features/features.2/MaxPool",
            List.of(x),
            "/features/features.2/MaxPool_output_0",
            GraphBuilder.ints("kernel_shape", 2, 2),
            GraphBuilder.ints("pads", 0, 0, 0, 0),
            GraphBuilder.ints("strides", 2, 2));
    x = conv(g, r, "/features/features.3/Conv", x, "onnx::Conv_7", "onnx::Conv_8", 8, 16);
    String min =
        g.node(
            "Constant",
            "/features/features.5/Constant",
            List.of(),
            "/features/features.5/Constant_output_0",
            tensorAttr(floatScalar(0f)));
    String max =
        g.node(
            "Constant",
            "/features/features.5/Constant_1",
            List.of(),
            "/features/features.5/Constant_1_output_0",
            tensorAttr(floatScalar(6f)));
    String features =
        g.node("Clip", "/features/features.5/Clip", List.of(x, min, max), LAST_FEATURE_MAP);

    String shape = g.node("Shape", "/Shape", List.of(features), "/Shape_output_0");
    String zero =
        g.node(
            "Constant",
            "/Constant",
            List.of(),
            "/Constant_output_0",
            tensorAttr(longs(new long[0], 0)));
    String batch =
        g.node(
            "Gather",
            "/Gather",
            List.of(shape, zero),
            "/Gather_output_0",
            GraphBuilder.attr("axis", 0));
    String unsqueezed =
        g.node(
            "Unsqueeze",
            "/Unsqueeze",
            List.of(batch),
            "/Unsqueeze_output_0",
            GraphBuilder.ints("axes", 0));
    String minusOne =
        g.node(
            "Constant",
            "/Constant_1",
            List.of(),
            "/Constant_1_output_0",
            tensorAttr(longs(new long[] {1}, -1)));
    String target =
        g.node(
            "Concat",
            "/Concat",
            List.of(unsqueezed, minusOne),
            "/Concat_output_0",
            GraphBuilder.attr("axis", 0));
    String flat = g.node("Reshape", "/Reshape", List.of(features, target), FLATTENED);

    String h =
        gemm(
            g,
            r,
            "/classifier/classifier.0/Gemm",
            flat,
            "classifier.0",
            256,
            32,
            "/classifier/classifier.0/Gemm_output_0");
    h =
        g.node(
            "Relu",
            "/classifier/classifier.1/Relu",
            List.of(h),
            "/classifier/classifier.1/Relu_output_0");
    gemm(g, r, "/classifier/classifier.3/Gemm", h, "classifier.3", 32, 10, OUTPUT);
    ModelProto built = g.output(valueInfo(OUTPUT, 10)).build();

    GraphProto.Builder graph = built.getGraph().toBuilder();
    if (initializersAsInputs) {
      for (TensorProto t : built.getGraph().getInitializerList()) {
        long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        graph.addInput(ValueInfoProto.newBuilder().setName(t.getName()).setType(exactType(dims)));
      }
    }
    return built.toBuilder()
        .setIrVersion(6)
        .setProducerName("pytorch")
        .setProducerVersion("1.13.1")
        .clearOpsetImport()
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
        .setGraph(graph)
        .build();
  }

  private static String conv(
      GraphBuilder g,
      SplittableRandom r,
      String node,
      String x,
      String w,
      String b,
      int in,
      int out) {
    float bound = (float) (1 / Math.sqrt(in * 9.0));
    g.floatInitializer(w, new long[] {out, in, 3, 3}, uniform(r, out * in * 9, bound));
    g.floatInitializer(b, new long[] {out}, uniform(r, out, bound));
    return g.node(
        "Conv",
        node,
        List.of(x, w, b),
        node + "_output_0",
        GraphBuilder.ints("dilations", 1, 1),
        GraphBuilder.attr("group", 1),
        GraphBuilder.ints("kernel_shape", 3, 3),
        GraphBuilder.ints("pads", 1, 1, 1, 1),
        GraphBuilder.ints("strides", 1, 1));
  }

  private static String gemm(
      GraphBuilder g,
      SplittableRandom r,
      String node,
      String x,
      String module,
      int in,
      int out,
      String output) {
    float bound = (float) (1 / Math.sqrt(in));
    g.floatInitializer(module + ".weight", new long[] {out, in}, uniform(r, out * in, bound));
    g.floatInitializer(module + ".bias", new long[] {out}, uniform(r, out, bound));
    return g.node(
        "Gemm",
        node,
        List.of(x, module + ".weight", module + ".bias"),
        output,
        GraphBuilder.attr("alpha", 1f),
        GraphBuilder.attr("beta", 1f),
        GraphBuilder.attr("transB", 1));
  }

  private static float[] uniform(SplittableRandom r, int n, float bound) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
    }
    return v;
  }

  /** {@code [batch_size, dims...]} float, the batch named as torch's dynamic_axes name it. */
  private static ValueInfoProto valueInfo(String name, long... dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch_size"));
    for (long d : dims) {
      shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(
            TypeProto.newBuilder()
                .setTensorType(
                    TypeProto.Tensor.newBuilder()
                        .setElemType(TensorProto.DataType.FLOAT.getNumber())
                        .setShape(shape)))
        .build();
  }

  private static TypeProto exactType(long[] dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (long d : dims) {
      shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return TypeProto.newBuilder()
        .setTensorType(
            TypeProto.Tensor.newBuilder()
                .setElemType(TensorProto.DataType.FLOAT.getNumber())
                .setShape(shape))
        .build();
  }

  private static AttributeProto tensorAttr(TensorProto t) {
    return AttributeProto.newBuilder()
        .setName("value")
        .setType(AttributeProto.AttributeType.TENSOR)
        .setT(t)
        .build();
  }

  private static TensorProto floatScalar(float v) {
    ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, v);
    return TensorProto.newBuilder()
        .setDataType(TensorProto.DataType.FLOAT.getNumber())
        .setRawData(ByteString.copyFrom(b.array()))
        .build();
  }

  private static TensorProto longs(long[] dims, long... values) {
    ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      b.putLong(v);
    }
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setDataType(TensorProto.DataType.INT64.getNumber())
            .setRawData(ByteString.copyFrom(b.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }
}
