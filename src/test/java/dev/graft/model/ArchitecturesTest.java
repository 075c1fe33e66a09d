package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.graft.core.GraftException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ArchitecturesTest {

  /** Learnable values of backbone + default 10-class head, counted by hand from the layer sizes. */
  private static final Map<String, Long> PARAMETERS =
      Map.of(
          "mlp", 784L * 128 + 128 + 128 * 64 + 64 + 650,
          "cnn-small", 144L + 4608 + 18432 + 2 * (16 + 32 + 64) + 650,
          "resnet-mini", 176L + 4672 + 14528 + 57728 + 650,
          "mobilenetv2-mini", 176L + 464 + 5136 + 8832 + 10000 + 14848 + 2176 + 650);

  @ParameterizedTest
  @ValueSource(strings = {"mlp", "cnn-small", "resnet-mini", "mobilenetv2-mini"})
  void classifierRunsInOnnxRuntimeWithExpectedLogitsShape(String name) throws Exception {
    Architecture arch = Architectures.get(name);
    ModelProto model = arch.classifier(10, 1);
    long[] batch = new long[arch.input().shape().size() + 1];
    batch[0] = 3;
    for (int i = 1; i < batch.length; i++) {
      batch[i] = arch.input().shape().get(i - 1);
    }
    OrtRun.Output out = OrtRun.runRandom(model, arch.input().name(), batch);
    assertArrayEquals(new long[] {3, 10}, out.shape());
    for (float v : out.values()) {
      assertTrue(Float.isFinite(v));
    }
    assertEquals(GraphSurgery.LOGITS, model.getGraph().getOutput(0).getName());
    assertEquals(17, model.getOpsetImport(0).getVersion());
    ParameterCounts counts = FreezeSpec.none().counts(model);
    assertEquals(PARAMETERS.get(name), counts.total());
    assertEquals(counts.total(), counts.trainable());
  }

  @ParameterizedTest
  @ValueSource(strings = {"mlp", "cnn-small", "resnet-mini", "mobilenetv2-mini"})
  void backboneEndsAtDeclaredFeatureTensor(String name) {
    Architecture arch = Architectures.get(name);
    ModelProto backbone = arch.backbone(1);
    assertEquals(arch.featureTensor(), backbone.getGraph().getOutput(0).getName());
    assertArrayEquals(new long[] {64}, GraphSurgery.featureShape(backbone, arch.featureTensor()));
  }

  @Test
  void acceptsOtherInputSizesAndChannels() throws Exception {
    InputSpec rgb = InputSpec.image(3, 32, 32);
    assertEquals(List.of(0.485f, 0.456f, 0.406f), rgb.mean());
    for (String name : List.of("cnn-small", "resnet-mini", "mobilenetv2-mini")) {
      ModelProto m = Architectures.get(name, rgb).classifier(4, 2);
      assertArrayEquals(
          new long[] {2, 4}, OrtRun.runRandom(m, "input", 2, 3, 32, 32).shape(), name);
    }
    ModelProto mlp = new Mlp(InputSpec.image(1, 28, 28), List.of(32)).classifier(3, 0);
    assertArrayEquals(new long[] {2, 3}, OrtRun.runRandom(mlp, "input", 2, 1, 28, 28).shape());
  }

  @Test
  void resnetHasIdentityAndProjectionShortcuts() {
    List<String> nodes =
        Architectures.get("resnet-mini").backbone(0).getGraph().getNodeList().stream()
            .map(NodeProto::getName)
            .toList();
    assertTrue(nodes.contains("layer1.0.add"));
    assertTrue(!nodes.contains("layer1.0.downsample.0"), "layer1 keeps the shape: identity");
    assertTrue(nodes.contains("layer2.0.downsample.0"));
    assertTrue(nodes.contains("layer3.0.downsample.1"));
  }

  @Test
  void mobilenetUsesDepthwiseConvsReluSixAndResiduals() {
    ModelProto m = Architectures.get("mobilenetv2-mini").backbone(0);
    NodeProto depthwise =
        m.getGraph().getNodeList().stream()
            .filter(n -> n.getName().equals("features.2.conv.3"))
            .findFirst()
            .orElseThrow();
    assertEquals("Conv", depthwise.getOpType());
    assertEquals(
        96,
        depthwise.getAttributeList().stream()
            .filter(a -> a.getName().equals("group"))
            .findFirst()
            .orElseThrow()
            .getI());
    List<String> ops = m.getGraph().getNodeList().stream().map(NodeProto::getOpType).toList();
    assertEquals(1 + 1 + 4 * 2 + 1, ops.stream().filter("Clip"::equals).count());
    List<String> adds =
        m.getGraph().getNodeList().stream()
            .filter(n -> n.getOpType().equals("Add"))
            .map(NodeProto::getName)
            .toList();
    assertEquals(List.of("features.1.add", "features.3.add", "features.5.add"), adds);
  }

  @Test
  void unknownArchitectureNamesTheKnownOnes() {
    GraftException.InvalidArgument e =
        assertThrows(GraftException.InvalidArgument.class, () -> Architectures.get("vgg"));
    assertTrue(
        e.getMessage().contains("[mlp, cnn-small, resnet-mini, mobilenetv2-mini]"), e.getMessage());
    assertThrows(
        GraftException.InvalidArgument.class,
        () -> Architectures.get("cnn-small", InputSpec.features(10)));
  }
}
