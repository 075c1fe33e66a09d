package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.core.GraftException;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Cut points of the built-in architectures, the pooled multi-output graph, heads grafted there. */
class CutPointsTest {

  private static List<CutPoints.CutPoint> cuts(Architecture arch) {
    ModelProto backbone = arch.backbone(1);
    return CutPoints.of(backbone, arch.featureTensor());
  }

  @Test
  void cnnSmallHasOneCutPointPerBlock() {
    List<CutPoints.CutPoint> cuts = cuts(Architectures.get("cnn-small"));
    assertEquals(
        List.of("features.0", "features.1", "features.2"),
        cuts.stream().map(CutPoints.CutPoint::name).toList());
    assertEquals(
        List.of("features.0.pool", "features.1.pool", "features"),
        cuts.stream().map(CutPoints.CutPoint::tensor).toList());
    assertEquals(List.of(16, 32, 64), cuts.stream().map(CutPoints.CutPoint::featureSize).toList());
    assertEquals(List.of(16L, 14L, 14L), cuts.get(0).shape());
    assertTrue(cuts.get(2).last());
    assertFalse(cuts.get(0).last());
  }

  @Test
  void resnetMiniCutsAfterStemAndEveryResidualBlock() {
    Architecture arch = Architectures.get("resnet-mini");
    ModelProto backbone = arch.backbone(1);
    List<CutPoints.CutPoint> cuts = CutPoints.of(backbone, arch.featureTensor());
    List<String> blocks = GraphParameters.of(backbone).blocks();
    assertEquals(blocks, cuts.stream().map(CutPoints.CutPoint::name).toList());
    // The tensor after a residual block is its final ReLU, after the skip connection's Add.
    assertTrue(cuts.stream().anyMatch(c -> c.tensor().equals("layer1.0.relu2")), cuts.toString());
  }

  @Test
  void namesAndTensorsResolveAndUnknownNamesListTheValidOnes() {
    List<CutPoints.CutPoint> cuts = cuts(Architectures.get("cnn-small"));
    assertEquals("features.1", CutPoints.resolve(cuts, "features.1", "m").name());
    assertEquals("features.1", CutPoints.resolve(cuts, "features.1.pool", "m").name());
    assertEquals("features.2", CutPoints.resolve(cuts, "", "m").name());
    assertEquals("features.2", CutPoints.resolve(cuts, "features", "m").name());
    GraftException.InvalidArgument e =
        assertThrows(
            GraftException.InvalidArgument.class, () -> CutPoints.resolve(cuts, "block9", "m"));
    assertTrue(
        e.getMessage().contains("features.0 (tensor features.0.pool, 16 features)"),
        e.getMessage());
  }

  @Test
  void pooledOutputsMatchEachCutGraphAveragedInJava() throws Exception {
    Architecture arch = Architectures.get("cnn-small");
    ModelProto backbone = arch.backbone(3);
    List<CutPoints.CutPoint> cuts = CutPoints.of(backbone, arch.featureTensor());
    ModelProto pooled = CutPoints.pooledOutputs(backbone, cuts);
    assertEquals(3, pooled.getGraph().getOutputCount());
    long[] shape = {2, 1, 28, 28};
    float[] x = OrtRun.random(shape, 11);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession s = env.createSession(pooled.toByteArray(), new OrtSession.SessionOptions());
        OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
        OrtSession.Result r = s.run(Map.of("input", in))) {
      for (int i = 0; i < cuts.size(); i++) {
        CutPoints.CutPoint c = cuts.get(i);
        OnnxTensor out = (OnnxTensor) r.get(CutPoints.pooledOutput(i)).orElseThrow();
        assertArrayEquals(new long[] {2, c.featureSize()}, out.getInfo().getShape());
        FloatBuffer got = out.getFloatBuffer();
        OrtRun.Output raw = OrtRun.run(GraphSurgery.cut(backbone, c.tensor()), "input", shape, x);
        int channels = c.featureSize();
        int inner = raw.values().length / (2 * channels);
        for (int k = 0; k < 2 * channels; k++) {
          double sum = 0;
          for (int j = 0; j < inner; j++) {
            sum += raw.values()[k * inner + j];
          }
          assertEquals(sum / inner, got.get(k), 1e-5, c.name());
        }
      }
    }
  }

  @Test
  void aHeadAtAnEarlierCutPointDropsTheLaterBlocks() {
    Architecture arch = Architectures.get("cnn-small");
    ModelProto backbone = arch.backbone(1);
    ModelProto grafted =
        GraphSurgery.appendHead(
            backbone,
            "features.0.pool",
            new HeadSpec(List.of(), HeadSpec.Activation.RELU, 0f, 4),
            1);
    List<String> names =
        grafted.getGraph().getInitializerList().stream().map(TensorProto::getName).toList();
    assertTrue(names.stream().anyMatch(n -> n.startsWith("features.0.")));
    assertFalse(names.stream().anyMatch(n -> n.startsWith("features.1.")), names.toString());
    assertEquals(
        List.of(4L, 16L),
        grafted.getGraph().getInitializerList().stream()
            .filter(t -> t.getName().equals("head.0.weight"))
            .findFirst()
            .orElseThrow()
            .getDimsList());
    assertEquals(
        List.of("features.0"),
        GraphParameters.of(grafted).blocks(),
        "FT counts blocks up to the cut");
  }
}
