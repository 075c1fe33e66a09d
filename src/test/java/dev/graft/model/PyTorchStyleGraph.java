package dev.graft.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * A small classifier shaped like a {@code torch.onnx.export} of a CNN: scoped node names ({@code
 * /layer1/layer1.0/conv1/Conv}), a BatchNorm-folded conv whose weights are called {@code
 * onnx::Conv_7}, and the {@code x.view(x.size(0), -1)} flatten that exports as
 * Shape→Gather→Unsqueeze→Concat→Reshape.
 */
final class PyTorchStyleGraph {

  static final String FLATTENED = "/Reshape_output_0";

  private PyTorchStyleGraph() {}

  static ModelProto build(long seed) {
    GraphBuilder g = new GraphBuilder("torch_jit", seed);
    // Weights come from the builder's helpers and are renamed below to the exporter's names.
    String x = g.input("input", 1, 8, 8);
    x =
        g.node(
            "Conv",
            "/conv/Conv",
            List.of(
                x,
                g.floatInitializer("conv.weight", new long[] {4, 1, 3, 3}, ramp(36)),
                g.floatInitializer("conv.bias", new long[] {4}, ramp(4))),
            "/conv/Conv_output_0",
            GraphBuilder.ints("pads", 1, 1, 1, 1));
    x = g.relu("/relu/Relu", x);
    x =
        g.node(
            "Conv",
            "/layer1/layer1.0/conv1/Conv",
            List.of(
                x,
                g.floatInitializer("onnx::Conv_7", new long[] {4, 4, 3, 3}, ramp(144)),
                g.floatInitializer("onnx::Conv_8", new long[] {4}, ramp(4))),
            "/layer1/layer1.0/conv1/Conv_output_0",
            GraphBuilder.ints("pads", 1, 1, 1, 1));
    String features =
        g.node(
            "Relu",
            "/layer1/layer1.0/relu/Relu",
            List.of(x),
            "/layer1/layer1.0/relu/Relu_output_0");
    String shape = g.node("Shape", "/Shape", List.of(features), "/Shape_output_0");
    String zero = g.node("Constant", "/Constant", List.of(), "/Constant_output_0", int64Scalar(0));
    String batch =
        g.node(
            "Gather",
            "/Gather",
            List.of(shape, zero),
            "/Gather_output_0",
            GraphBuilder.attr("axis", 0));
    String axes = g.int64Initializer("onnx::Unsqueeze_20", new long[] {1}, new long[] {0});
    String unsqueezed =
        g.node("Unsqueeze", "/Unsqueeze", List.of(batch, axes), "/Unsqueeze_output_0");
    String minusOne = g.int64Initializer("onnx::Concat_21", new long[] {1}, new long[] {-1});
    String target =
        g.node(
            "Concat",
            "/Concat",
            List.of(unsqueezed, minusOne),
            "/Concat_output_0",
            GraphBuilder.attr("axis", 0));
    String flat = g.node("Reshape", "/Reshape", List.of(features, target), FLATTENED);
    g.linear("fc", flat, 4 * 8 * 8, 3, "output");
    return g.output("output", 3).build();
  }

  private static float[] ramp(int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = ((i * 7) % 11 - 5) / 20f;
    }
    return v;
  }

  private static AttributeProto int64Scalar(long value) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value);
    return AttributeProto.newBuilder()
        .setName("value")
        .setType(AttributeProto.AttributeType.TENSOR)
        .setT(
            TensorProto.newBuilder()
                .setDataType(TensorProto.DataType.INT64.getNumber())
                .setRawData(ByteString.copyFrom(b.array())))
        .build();
  }
}
