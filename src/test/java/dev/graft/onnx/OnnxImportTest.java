package dev.graft.onnx;

import static dev.graft.onnx.TestGraphs.FLOAT;
import static dev.graft.onnx.TestGraphs.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxImportTest {

  @TempDir Path dir;

  @Test
  void unsupportedOperatorIsRefusedNamingOperatorAndNode() {
    ModelProto m =
        new TestGraphs(1)
            .input("boxes", FLOAT, 1, 4, 4)
            .input("scores", FLOAT, 1, 1, 4)
            .output("sel", TestGraphs.INT64)
            .node("NonMaxSuppression", "nms_1", s("boxes", "scores"), s("sel"))
            .build();
    GraftException.InvalidArgument e =
        assertThrows(GraftException.InvalidArgument.class, () -> OnnxImport.load(m.toByteArray()));
    assertTrue(e.getMessage().contains("'NonMaxSuppression'"), e.getMessage());
    assertTrue(e.getMessage().contains("'nms_1'"), e.getMessage());
    assertTrue(e.getMessage().contains("Conv"), "lists the supported operators");
    assertThrows(GraftException.InvalidArgument.class, () -> new OnnxBlock(m, n -> true));
  }

  @Test
  void operatorOfAnotherDomainIsRefused() {
    ModelProto m = new TestGraphs(1).input("x", FLOAT, 2).output("y", FLOAT).build();
    ModelProto withCustom =
        m.toBuilder()
            .setGraph(
                m.getGraph().toBuilder()
                    .addNode(
                        NodeProto.newBuilder()
                            .setOpType("Relu")
                            .setDomain("com.microsoft")
                            .setName("custom")
                            .addInput("x")
                            .addOutput("y")))
            .build();
    GraftException.InvalidArgument e =
        assertThrows(
            GraftException.InvalidArgument.class, () -> OnnxImport.load(withCustom.toByteArray()));
    assertTrue(e.getMessage().contains("com.microsoft.Relu"), e.getMessage());
  }

  @Test
  void opsetOutsideElevenToSeventeenIsRefusedNamingIt() {
    for (int opset : new int[] {10, 18}) {
      ModelProto m =
          new TestGraphs(1)
              .opset(opset)
              .input("x", FLOAT, 2)
              .output("y", FLOAT)
              .node("Relu", "r", s("x"), s("y"))
              .build();
      GraftException.InvalidArgument e =
          assertThrows(
              GraftException.InvalidArgument.class, () -> OnnxImport.load(m.toByteArray()));
      assertTrue(e.getMessage().contains("opset " + opset), e.getMessage());
    }
  }

  @Test
  void opsetElevenIsNormalisedToSeventeen() {
    ModelProto m =
        new TestGraphs(1)
            .opset(11)
            .input("x", FLOAT, 2, 1, 3)
            .output("y", FLOAT)
            .node("Squeeze", "sq", s("x"), s("y"), TestGraphs.ints("axes", 1))
            .build();
    ModelProto n = OnnxImport.load(m.toByteArray());
    assertEquals(17, OnnxImport.defaultOpset(n));
    NodeProto sq = n.getGraph().getNode(0);
    assertEquals(0, sq.getAttributeCount(), "axes moved from attribute to input");
    assertEquals(2, sq.getInputCount());
    TensorProto axes =
        n.getGraph().getInitializerList().stream()
            .filter(t -> t.getName().equals(sq.getInput(1)))
            .findFirst()
            .orElseThrow();
    assertArrayEquals(new long[] {1}, OnnxTensors.longs(axes));
  }

  @Test
  void externalDataLoadsFromPathAndIsRefusedFromBytes() throws Exception {
    float[] w = {1f, 2f, 3f, 4f};
    ByteBuffer b = ByteBuffer.allocate(16 + 16).order(ByteOrder.LITTLE_ENDIAN);
    b.putFloat(9f).putFloat(9f).putFloat(9f).putFloat(9f);
    for (float f : w) {
      b.putFloat(f);
    }
    Files.write(dir.resolve("weights.bin"), b.array());
    TensorProto ext =
        TensorProto.newBuilder()
            .setName("w")
            .setDataType(TensorProto.DataType.FLOAT_VALUE)
            .addDims(4)
            .setDataLocation(TensorProto.DataLocation.EXTERNAL)
            .addExternalData(kv("location", "weights.bin"))
            .addExternalData(kv("offset", "16"))
            .addExternalData(kv("length", "16"))
            .build();
    TestGraphs g =
        new TestGraphs(1)
            .input("x", FLOAT, 4)
            .output("y", FLOAT)
            .node("Add", "a", s("x", "w"), s("y"));
    g.initializers.add(ext);
    ModelProto m = g.build();
    Path file = dir.resolve("model.onnx");
    Files.write(file, m.toByteArray());

    ModelProto loaded = OnnxImport.load(file);
    assertArrayEquals(w, OnnxTensors.floats(loaded.getGraph().getInitializer(0)));
    GraftException.InvalidArgument e =
        assertThrows(GraftException.InvalidArgument.class, () -> OnnxImport.load(m.toByteArray()));
    assertTrue(e.getMessage().contains("external"), e.getMessage());
  }

  private static StringStringEntryProto kv(String k, String v) {
    return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }
}
