package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.onnx.MiniLm;
import dev.graft.onnx.OnnxImport;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The imported MiniLM's cut points: after the embeddings and each of its six layers. */
class MiniLmCutPointsTest {

  @Test
  void everyEncoderLayerIsACutPointOfTheHiddenSize() throws Exception {
    ModelProto encoder = GraphSurgery.cut(OnnxImport.load(MiniLm.bytesOrSkip()), MiniLm.OUTPUT);
    List<CutPoints.CutPoint> cuts = CutPoints.of(encoder, MiniLm.OUTPUT);
    System.out.println("MiniLM cut points: " + CutPoints.describe(cuts));
    assertEquals(MiniLm.OUTPUT, cuts.get(cuts.size() - 1).tensor());
    assertTrue(cuts.size() >= 6, cuts.toString());
    for (CutPoints.CutPoint c : cuts) {
      assertEquals(MiniLm.HIDDEN, c.featureSize(), c.toString());
      assertEquals(2, c.shape().size(), c.toString());
    }
  }
}
