package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.core.GraftException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class GraphBuilderTest {

  private static ModelProto convNet(long seed) {
    GraphBuilder g = new GraphBuilder("t", seed);
    String x = g.input("input", 3, 8, 8);
    x = g.conv("block.conv", x, 3, 8, 3, 1, 1, 1, true);
    x = g.batchNorm("block.bn", x, 8);
    x = g.relu6("block.act", x);
    x = g.conv("block.dw", x, 8, 8, 3, 2, 1, 8, false);
    x = g.globalAveragePool("pool", x);
    x = g.flatten("flatten", x);
    x = g.dropout("drop", x, 0.25f);
    x = g.linear("fc", x, 8, 5);
    return g.output(x, 5).build();
  }

  private static float[] floats(TensorProto t) {
    FloatBuffer b =
        t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] values = new float[b.remaining()];
    b.get(values);
    return values;
  }

  private static TensorProto initializer(ModelProto m, String name) {
    return m.getGraph().getInitializerList().stream()
        .filter(t -> t.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void emitsOpset17AndIrVersion8WithDynamicBatch() {
    ModelProto m = convNet(1);
    assertEquals(8, m.getIrVersion());
    assertEquals(1, m.getOpsetImportCount());
    assertEquals("", m.getOpsetImport(0).getDomain());
    assertEquals(17, m.getOpsetImport(0).getVersion());
    assertEquals(
        "N", m.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
    assertEquals(
        List.of("block.conv", "block.bn", "block.act", "block.dw", "pool", "flatten", "drop", "fc"),
        m.getGraph().getNodeList().stream().map(NodeProto::getName).toList());
  }

  @Test
  void initialisesLikePyTorchDefaults() {
    ModelProto m = convNet(1);
    float convBound = (float) (1 / Math.sqrt(3 * 3 * 3));
    float[] w = floats(initializer(m, "block.conv.weight"));
    assertEquals(8 * 3 * 3 * 3, w.length);
    float max = 0;
    for (float v : w) {
      max = Math.max(max, Math.abs(v));
    }
    assertTrue(max <= convBound && max > 0.8f * convBound, "max |w| " + max + " vs " + convBound);
    assertEquals(List.of(8L, 1L, 3L, 3L), initializer(m, "block.dw.weight").getDimsList());
    assertEquals(List.of(5L, 8L), initializer(m, "fc.weight").getDimsList());
    assertArrayEquals(
        new float[] {1, 1, 1, 1, 1, 1, 1, 1}, floats(initializer(m, "block.bn.weight")));
    assertArrayEquals(new float[8], floats(initializer(m, "block.bn.bias")));
    assertArrayEquals(new float[8], floats(initializer(m, "block.bn.running_mean")));
    assertArrayEquals(
        new float[] {1, 1, 1, 1, 1, 1, 1, 1}, floats(initializer(m, "block.bn.running_var")));
    assertArrayEquals(new float[] {6}, floats(initializer(m, "block.act.max")));
    assertArrayEquals(new float[] {0.25f}, floats(initializer(m, "drop.ratio")));
  }

  @Test
  void sameSeedGivesSameBytesAndOtherSeedDiffers() {
    assertArrayEquals(convNet(42).toByteArray(), convNet(42).toByteArray());
    assertFalse(
        initializer(convNet(42), "fc.weight").equals(initializer(convNet(43), "fc.weight")));
  }

  @Test
  void runsInOnnxRuntime() throws Exception {
    OrtRun.Output out = OrtRun.runRandom(convNet(3), "input", 4, 3, 8, 8);
    assertArrayEquals(new long[] {4, 5}, out.shape());
  }

  @Test
  void rejectsDuplicateAndUnknownNames() {
    GraphBuilder g = new GraphBuilder("t", 0);
    String x = g.input("input", 4);
    g.relu("r", x);
    assertThrows(GraftException.InvalidArgument.class, () -> g.relu("r", x));
    assertThrows(GraftException.InvalidArgument.class, () -> g.relu("s", "missing"));
    assertThrows(GraftException.InvalidArgument.class, () -> g.output("missing", 4));
    assertThrows(GraftException.InvalidArgument.class, () -> g.dropout("d", x, 1f));
    assertThrows(
        GraftException.InvalidArgument.class, () -> g.conv("c", x, 3, 8, 3, 1, 1, 2, false));
    assertThrows(GraftException.FailedPrecondition.class, g::build);
  }
}
