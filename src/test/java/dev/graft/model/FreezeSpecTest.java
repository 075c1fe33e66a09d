package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class FreezeSpecTest {

  private static final ModelProto CNN = Architectures.get("cnn-small").classifier(10, 1);
  private static final ModelProto RESNET = Architectures.get("resnet-mini").classifier(10, 1);
  private static final ModelProto MOBILENET =
      Architectures.get("mobilenetv2-mini").classifier(10, 1);
  private static final ModelProto MLP = Architectures.get("mlp").classifier(10, 1);

  private static List<String> blocks(ModelProto m) {
    return GraphParameters.of(m).blocks();
  }

  @Test
  void blocksFollowNamePrefixesInTopologicalOrder() {
    assertEquals(List.of("features.0", "features.1", "features.2"), blocks(CNN));
    assertEquals(List.of("stem", "layer1.0", "layer2.0", "layer3.0"), blocks(RESNET));
    assertEquals(
        List.of(
            "features.0",
            "features.1",
            "features.2",
            "features.3",
            "features.4",
            "features.5",
            "features.6"),
        blocks(MOBILENET));
    assertEquals(List.of("layers.0", "layers.2"), blocks(MLP));
    assertEquals(
        List.of("stem", "layer1", "layer2", "layer3"), GraphParameters.of(RESNET, 1).blocks());
    assertEquals(
        List.of("stem.conv", "stem.bn", "layer1.0.conv1", "layer1.0.bn1"),
        GraphParameters.of(RESNET, 3).blocks().subList(0, 4));
  }

  @Test
  void backboneTrainsTheHeadOnly() {
    FreezeSpec spec = FreezeSpec.backbone();
    assertEquals(Set.of("head.0.weight", "head.0.bias"), spec.trainable(RESNET));
    assertEquals(new ParameterCounts(650, 77754), spec.counts(RESNET));
    Predicate<String> trainable = spec.predicate(CNN);
    assertTrue(trainable.test("head.0.weight"));
    assertFalse(trainable.test("features.2.conv.weight"));
    assertFalse(trainable.test("features.2.bn.running_mean"));
  }

  @Test
  void backboneWithoutHeadIsRefused() {
    ModelProto noHead = Architectures.get("cnn-small").backbone(0);
    GraftException.FailedPrecondition e =
        assertThrows(
            GraftException.FailedPrecondition.class, () -> FreezeSpec.backbone().trainable(noHead));
    assertTrue(e.getMessage().contains("appendHead"), e.getMessage());
  }

  @Test
  void noneTrainsEveryWeightButNeitherStatisticsNorConstants() {
    Set<String> cnn = FreezeSpec.none().trainable(CNN);
    assertEquals(3 + 6 + 2, cnn.size());
    assertFalse(cnn.stream().anyMatch(n -> n.contains("running_")));
    Set<String> mobilenet = FreezeSpec.none().trainable(MOBILENET);
    assertFalse(mobilenet.contains("features.0.2.max"), "Clip bounds are constants");
    assertTrue(mobilenet.contains("features.2.conv.3.weight"), "depthwise weights train");
    assertEquals(new ParameterCounts(42282, 42282), FreezeSpec.none().counts(MOBILENET));
  }

  @Test
  void lastBlocksTrainsTheLastBlocksAndTheHead() {
    assertEquals(
        Set.of(
            "features.2.conv.weight",
            "features.2.bn.weight",
            "features.2.bn.bias",
            "head.0.weight",
            "head.0.bias"),
        FreezeSpec.lastBlocks(1).trainable(CNN));
    assertEquals(
        new ParameterCounts(18432 + 128 + 650, 24058), FreezeSpec.lastBlocks(1).counts(CNN));

    Set<String> resnet = FreezeSpec.lastBlocks(2).trainable(RESNET);
    assertEquals(2 * 9 + 2, resnet.size());
    assertTrue(resnet.contains("layer2.0.downsample.0.weight"));
    assertTrue(resnet.contains("layer3.0.bn2.bias"));
    assertFalse(resnet.contains("layer1.0.conv1.weight"));
    assertFalse(resnet.contains("layer3.0.bn2.running_var"));

    assertEquals(FreezeSpec.backbone().trainable(MLP), FreezeSpec.lastBlocks(0).trainable(MLP));
    assertEquals(FreezeSpec.none().trainable(MLP), FreezeSpec.lastBlocks(2).trainable(MLP));
  }

  @Test
  void lastBlocksBeyondTheBackboneNamesTheBlocks() {
    GraftException.InvalidArgument e =
        assertThrows(
            GraftException.InvalidArgument.class, () -> FreezeSpec.lastBlocks(4).trainable(CNN));
    assertTrue(e.getMessage().contains("has 3 backbone blocks"), e.getMessage());
    assertTrue(e.getMessage().contains("[features.0, features.1, features.2]"), e.getMessage());
    assertThrows(GraftException.InvalidArgument.class, () -> FreezeSpec.lastBlocks(-1));
  }

  @Test
  void patternsAcceptPrefixesAndRegexes() {
    Set<String> names =
        FreezeSpec.patterns(List.of("layer3.", "layer2\\.0\\.conv[12]\\.weight")).trainable(RESNET);
    assertEquals(9 + 2 + 2, names.size());
    assertTrue(
        names.containsAll(
            List.of(
                "layer2.0.conv1.weight",
                "layer2.0.conv2.weight",
                "layer3.0.downsample.1.bias",
                "head.0.bias")));
    assertFalse(names.contains("layer2.0.bn1.weight"));

    Set<String> statisticsOnly =
        FreezeSpec.patterns(List.of("layer3.0.bn1.running_mean")).trainable(RESNET);
    assertEquals(Set.of("head.0.weight", "head.0.bias"), statisticsOnly);
  }

  @Test
  void unknownPatternNamesTheBlocks() {
    GraftException.InvalidArgument e =
        assertThrows(
            GraftException.InvalidArgument.class,
            () -> FreezeSpec.patterns(List.of("layer3.", "layer9.")).trainable(RESNET));
    assertTrue(e.getMessage().contains("'layer9.'"), e.getMessage());
    assertTrue(e.getMessage().contains("[stem, layer1.0, layer2.0, layer3.0]"), e.getMessage());
    assertThrows(GraftException.InvalidArgument.class, () -> FreezeSpec.patterns(List.of()));
  }

  @Test
  void importedGraphBlocksComeFromScopedNodeNames() {
    ModelProto model =
        GraphSurgery.appendHead(
            PyTorchStyleGraph.build(0), PyTorchStyleGraph.FLATTENED, HeadSpec.linear(2), 0);
    assertEquals(List.of("conv", "layer1.0"), blocks(model));
    assertEquals(
        Set.of("onnx::Conv_7", "onnx::Conv_8", "head.0.weight", "head.0.bias"),
        FreezeSpec.lastBlocks(1).trainable(model));
    assertEquals(
        new ParameterCounts(144 + 4 + 512 + 2, 36 + 4 + 144 + 4 + 512 + 2),
        FreezeSpec.lastBlocks(1).counts(model));
  }

  @Test
  void automaticBlockKeysStopAtTheModuleIndex() {
    assertEquals("layer1.0", GraphParameters.autoKey("layer1.0.conv1"));
    assertEquals("features.3", GraphParameters.autoKey("features.3.conv.0"));
    assertEquals(
        "bert.encoder.layer.3",
        GraphParameters.autoKey("bert.encoder.layer.3.attention.self.query"));
    assertEquals("bert.pooler", GraphParameters.autoKey("bert.pooler.dense"));
    assertEquals("stem", GraphParameters.autoKey("stem.conv"));
    assertEquals("fc", GraphParameters.autoKey("fc"));
  }

  @Test
  void scopePathJoinsExporterScopes() {
    assertEquals("layer1.0.conv1", GraphParameters.scopePath("/layer1/layer1.0/conv1/Conv"));
    assertEquals(
        "features.0.0", GraphParameters.scopePath("/features/features.0/features.0.0/Conv"));
    assertEquals("model.dense", GraphParameters.scopePath("model/dense/MatMul"));
    assertEquals("Conv_0", GraphParameters.scopePath("Conv_0"));
  }
}
