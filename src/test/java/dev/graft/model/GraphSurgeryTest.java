package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class GraphSurgeryTest {

  private static List<String> initializerNames(ModelProto m) {
    return m.getGraph().getInitializerList().stream().map(TensorProto::getName).toList();
  }

  private static List<String> nodeNames(ModelProto m) {
    return m.getGraph().getNodeList().stream().map(NodeProto::getName).toList();
  }

  private static List<String> outputShape(ModelProto m) {
    return m.getGraph().getOutput(0).getType().getTensorType().getShape().getDimList().stream()
        .map(d -> d.hasDimValue() ? Long.toString(d.getDimValue()) : d.getDimParam())
        .toList();
  }

  @Test
  void cutKeepsOnlyWhatComputesTheTensorAndShapesIt() throws Exception {
    ModelProto full = Architectures.get("resnet-mini").classifier(10, 1);
    ModelProto cut = GraphSurgery.cut(full, "layer2.0.relu2");
    assertEquals(List.of("N", "32", "14", "14"), outputShape(cut));
    assertEquals(1, cut.getGraph().getOutputCount());
    assertTrue(nodeNames(cut).contains("layer2.0.downsample.1"));
    assertFalse(
        nodeNames(cut).stream().anyMatch(n -> n.startsWith("layer3") || n.startsWith("head")));
    assertFalse(
        initializerNames(cut).stream()
            .anyMatch(n -> n.startsWith("layer3.") || n.startsWith("head.")));
    assertArrayEquals(new long[] {32, 14, 14}, GraphSurgery.featureShape(full, "layer2.0.relu2"));
    assertArrayEquals(
        new long[] {2, 32, 14, 14}, OrtRun.runRandom(cut, "input", 2, 1, 28, 28).shape());
  }

  @Test
  void cutPrunesUnusedInputs() {
    GraphBuilder g = new GraphBuilder("two", 0);
    String a = g.input("a", 4);
    String b = g.input("b", 4);
    String left = g.linear("left", a, 4, 2);
    g.linear("right", b, 4, 2);
    g.output(left, 2).output("right", 2);
    ModelProto cut = GraphSurgery.cut(g.build(), "left");
    assertEquals(
        List.of("a"), cut.getGraph().getInputList().stream().map(ValueInfoProto::getName).toList());
    assertEquals(List.of("left.weight", "left.bias"), initializerNames(cut));
  }

  @Test
  void unknownTensorListsTheAvailableOnes() {
    ModelProto model = Architectures.get("cnn-small").backbone(0);
    GraftException.InvalidArgument e =
        assertThrows(GraftException.InvalidArgument.class, () -> GraphSurgery.cut(model, "fc"));
    assertTrue(e.getMessage().contains("'fc'"), e.getMessage());
    assertTrue(e.getMessage().contains("features.2.pool, avgpool, features]"), e.getMessage());
    GraftException.InvalidArgument input =
        assertThrows(GraftException.InvalidArgument.class, () -> GraphSurgery.cut(model, "input"));
    assertTrue(input.getMessage().contains("is a graph input"), input.getMessage());
  }

  @Test
  void appendHeadOnFourDimensionalFeaturesPoolsFirst() throws Exception {
    ModelProto backbone = Architectures.get("cnn-small").backbone(0);
    HeadSpec spec = new HeadSpec(List.of(32, 16), HeadSpec.Activation.LEAKY_RELU, 0.3f, 5);
    ModelProto model = GraphSurgery.appendHead(backbone, "features.1.pool", spec, 9);
    List<String> head = nodeNames(model).stream().filter(GraphSurgery::isHead).toList();
    assertEquals(
        List.of(
            "head.pool",
            "head.flatten",
            "head.0",
            "head.1",
            "head.2",
            "head.3",
            "head.4",
            "head.5",
            "head.6",
            "head.7"),
        head);
    List<String> ops =
        model.getGraph().getNodeList().stream()
            .filter(n -> GraphSurgery.isHead(n.getName()))
            .map(NodeProto::getOpType)
            .toList();
    assertEquals(
        List.of(
            "GlobalAveragePool",
            "Flatten",
            "Dropout",
            "Gemm",
            "LeakyRelu",
            "Dropout",
            "Gemm",
            "LeakyRelu",
            "Dropout",
            "Gemm"),
        ops);
    assertEquals(
        List.of(32L, 32L),
        model.getGraph().getInitializerList().stream()
            .filter(t -> t.getName().equals("head.1.weight"))
            .findFirst()
            .orElseThrow()
            .getDimsList());
    assertEquals(List.of("N", "5"), outputShape(model));
    assertFalse(
        nodeNames(model).contains("features.2.conv"), "the graph is cut at the feature tensor");
    assertArrayEquals(new long[] {3, 5}, OrtRun.runRandom(model, "input", 3, 1, 28, 28).shape());
  }

  @Test
  void appendHeadOnTransformerHiddenStatesAveragesOverTokens() throws Exception {
    GraphBuilder g = new GraphBuilder("encoder", 0);
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    shape.addDimBuilder().setDimParam("batch");
    shape.addDimBuilder().setDimParam("sequence");
    shape.addDimBuilder().setDimValue(8);
    String x =
        g.input(
            ValueInfoProto.newBuilder()
                .setName("embeddings")
                .setType(
                    TypeProto.newBuilder()
                        .setTensorType(
                            TypeProto.Tensor.newBuilder()
                                .setElemType(TensorProto.DataType.FLOAT.getNumber())
                                .setShape(shape)))
                .build());
    String w = g.floatInitializer("encoder.proj.weight", new long[] {8, 12}, new float[96]);
    String hidden = g.node("MatMul", "/encoder/proj/MatMul", List.of(x, w), "last_hidden_state");
    ModelProto encoder = g.output(hidden, 5, 12).build();

    assertArrayEquals(new long[] {-1, 12}, GraphSurgery.featureShape(encoder, "last_hidden_state"));
    ModelProto model = GraphSurgery.appendHead(encoder, "last_hidden_state", HeadSpec.linear(3), 1);
    NodeProto pool =
        model.getGraph().getNodeList().stream()
            .filter(n -> n.getName().equals("head.pool"))
            .findFirst()
            .orElseThrow();
    assertEquals("ReduceMean", pool.getOpType());
    assertArrayEquals(new long[] {2, 3}, OrtRun.runRandom(model, "embeddings", 2, 7, 8).shape());
  }

  @Test
  void headWeightsDependOnlyOnTheSeed() {
    ModelProto backbone = Architectures.get("mlp").backbone(0);
    HeadSpec spec = new HeadSpec(List.of(16), HeadSpec.Activation.TANH, 0f, 4);
    ModelProto a = GraphSurgery.appendHead(backbone, "features", spec, 5);
    ModelProto b = GraphSurgery.appendHead(backbone, "features", spec, 5);
    ModelProto c = GraphSurgery.appendHead(backbone, "features", spec, 6);
    assertArrayEquals(a.toByteArray(), b.toByteArray());
    Set<String> differing =
        a.getGraph().getInitializerList().stream()
            .filter(t -> !c.getGraph().getInitializerList().contains(t))
            .map(TensorProto::getName)
            .collect(Collectors.toSet());
    assertEquals(Set.of("head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"), differing);
  }

  @Test
  void replacingTheHeadOfAClassifierDropsTheOldOne() throws Exception {
    ModelProto pretrained = Architectures.get("mobilenetv2-mini").classifier(10, 1);
    ModelProto model = GraphSurgery.appendHead(pretrained, "features", HeadSpec.linear(2), 2);
    List<String> head = initializerNames(model).stream().filter(GraphSurgery::isHead).toList();
    assertEquals(List.of("head.0.weight", "head.0.bias"), head);
    assertArrayEquals(new long[] {1, 2}, OrtRun.runRandom(model, "input", 1, 1, 28, 28).shape());
    assertEquals(
        1,
        model.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Gemm")).count());
  }

  @Test
  void cuttingInsideTheHeadIsRefused() {
    ModelProto classifier = Architectures.get("mlp").classifier(10, 1);
    ModelProto withHidden =
        GraphSurgery.appendHead(
            classifier, "features", new HeadSpec(List.of(8), HeadSpec.Activation.RELU, 0f, 3), 1);
    GraftException.InvalidArgument e =
        assertThrows(
            GraftException.InvalidArgument.class,
            () -> GraphSurgery.appendHead(withHidden, "head.1", HeadSpec.linear(2), 1));
    assertTrue(e.getMessage().contains("head.0"), e.getMessage());
  }

  @Test
  void pytorchStyleFlattenSubgraphIsCutAndGetsAHead() throws Exception {
    ModelProto imported = PyTorchStyleGraph.build(0);
    assertArrayEquals(new long[] {3}, shapeOf(OrtRun.runRandom(imported, "input", 2, 1, 8, 8)));
    assertArrayEquals(
        new long[] {256}, GraphSurgery.featureShape(imported, PyTorchStyleGraph.FLATTENED));
    ModelProto model =
        GraphSurgery.appendHead(
            imported,
            PyTorchStyleGraph.FLATTENED,
            new HeadSpec(List.of(16), HeadSpec.Activation.SIGMOID, 0.1f, 4),
            3);
    assertTrue(
        nodeNames(model)
            .containsAll(
                List.of("/Shape", "/Gather", "/Unsqueeze", "/Concat", "/Reshape", "/Constant")));
    assertFalse(initializerNames(model).contains("fc.weight"));
    assertTrue(
        initializerNames(model).containsAll(List.of("onnx::Unsqueeze_20", "onnx::Concat_21")));
    assertEquals(List.of("N", "4"), outputShape(model));
    assertArrayEquals(new long[] {5, 4}, OrtRun.runRandom(model, "input", 5, 1, 8, 8).shape());
  }

  private static long[] shapeOf(OrtRun.Output out) {
    return new long[] {out.shape()[1]};
  }
}
