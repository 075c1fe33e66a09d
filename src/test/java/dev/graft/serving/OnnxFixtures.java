package dev.graft.serving;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.data.Preprocessing;
import dev.graft.model.ModelVersions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;

/**
 * Small classifiers written as ONNX files with the generated protobuf classes, shaped like Graft's
 * exports: one float32 input {@code input} [N, ...], one output {@code logits} [N, classes], labels
 * and preprocessing in metadata_props. Weights are seeded random numbers.
 */
public final class OnnxFixtures {

  private OnnxFixtures() {}

  /** input [N, features] → Gemm → Relu → Gemm → logits [N, classes]. */
  public static Path mlp(
      Path file, int features, int hidden, int classes, long seed, Map<String, String> metadata) {
    Random random = new Random(seed);
    GraphProto.Builder g = GraphProto.newBuilder().setName("mlp");
    g.addInput(value("input", -1, features));
    g.addInitializer(tensor("fc1.weight", random, hidden, features));
    g.addInitializer(tensor("fc1.bias", random, hidden));
    g.addInitializer(tensor("fc2.weight", random, classes, hidden));
    g.addInitializer(tensor("fc2.bias", random, classes));
    g.addNode(gemm("fc1", "input", "fc1.weight", "fc1.bias", "h"));
    g.addNode(
        NodeProto.newBuilder().setName("relu").setOpType("Relu").addInput("h").addOutput("a"));
    g.addNode(gemm("fc2", "a", "fc2.weight", "fc2.bias", "logits"));
    g.addOutput(value("logits", -1, classes));
    return write(file, g, metadata);
  }

  /**
   * input [N, 1, 28, 28] → Conv 4×3×3 stride 2 → Relu → Flatten → Gemm → logits [N, classes], with
   * unit-scale grayscale preprocessing.
   */
  public static Path cnn(Path file, int classes, long seed, Map<String, String> metadata) {
    Random random = new Random(seed);
    GraphProto.Builder g = GraphProto.newBuilder().setName("cnn");
    g.addInput(value("input", -1, 1, 28, 28));
    g.addInitializer(tensor("conv.weight", random, 4, 1, 3, 3));
    g.addInitializer(tensor("conv.bias", random, 4));
    g.addInitializer(tensor("fc.weight", random, classes, 4 * 13 * 13));
    g.addInitializer(tensor("fc.bias", random, classes));
    g.addNode(
        NodeProto.newBuilder()
            .setName("conv")
            .setOpType("Conv")
            .addInput("input")
            .addInput("conv.weight")
            .addInput("conv.bias")
            .addOutput("c")
            .addAttribute(ints("kernel_shape", 3, 3))
            .addAttribute(ints("strides", 2, 2)));
    g.addNode(
        NodeProto.newBuilder().setName("relu").setOpType("Relu").addInput("c").addOutput("r"));
    g.addNode(
        NodeProto.newBuilder()
            .setName("flatten")
            .setOpType("Flatten")
            .addInput("r")
            .addOutput("f")
            .addAttribute(
                AttributeProto.newBuilder()
                    .setName("axis")
                    .setType(AttributeProto.AttributeType.INT)
                    .setI(1)));
    g.addNode(gemm("fc", "f", "fc.weight", "fc.bias", "logits"));
    g.addOutput(value("logits", -1, classes));
    return write(file, g, metadata);
  }

  /** Labels and preprocessing as an exporter writes them. */
  public static Map<String, String> metadata(List<String> labels, Preprocessing preprocessing) {
    String json =
        labels.stream().map(l -> "\"" + l + "\"").collect(Collectors.joining(",", "[", "]"));
    return preprocessing == null
        ? Map.of(ModelVersions.LABELS_METADATA_KEY, json)
        : Map.of(
            ModelVersions.LABELS_METADATA_KEY,
            json,
            Preprocessing.METADATA_KEY,
            preprocessing.toJson());
  }

  private static Path write(Path file, GraphProto.Builder graph, Map<String, String> metadata) {
    ModelProto.Builder model =
        ModelProto.newBuilder()
            .setIrVersion(8)
            .setProducerName("graft-test")
            .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
            .setGraph(graph);
    metadata.forEach(
        (k, v) ->
            model.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.write(file, model.build().toByteArray());
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static NodeProto gemm(String name, String x, String w, String b, String out) {
    return NodeProto.newBuilder()
        .setName(name)
        .setOpType("Gemm")
        .addInput(x)
        .addInput(w)
        .addInput(b)
        .addOutput(out)
        .addAttribute(
            AttributeProto.newBuilder()
                .setName("transB")
                .setType(AttributeProto.AttributeType.INT)
                .setI(1))
        .build();
  }

  private static AttributeProto ints(String name, long... values) {
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return a.build();
  }

  private static TensorProto tensor(String name, Random random, int... dims) {
    TensorProto.Builder t =
        TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT.getNumber());
    int size = 1;
    for (int d : dims) {
      t.addDims(d);
      size *= d;
    }
    float scale = (float) Math.sqrt(2.0 / Math.max(1, size / dims[0]));
    for (int i = 0; i < size; i++) {
      t.addFloatData((float) random.nextGaussian() * scale);
    }
    return t.build();
  }

  private static ValueInfoProto value(String name, long... dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (long d : dims) {
      shape.addDim(
          d < 0
              ? TensorShapeProto.Dimension.newBuilder().setDimParam("N")
              : TensorShapeProto.Dimension.newBuilder().setDimValue(d));
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
}
