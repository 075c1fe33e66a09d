package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.onnx.MiniLm;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxImport;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Transfer-learning surgery on the real pre-trained MiniLM export: cut at its hidden states, a head
 * on the mean over tokens, and "last N blocks" finding the transformer layers.
 */
class MiniLmSurgeryTest {

  private static final Pattern LAYER = Pattern.compile("^/?encoder[./]layer\\.(\\d+)[./]");

  private static ModelProto model;

  @BeforeAll
  static void load() throws Exception {
    model = OnnxImport.load(MiniLm.bytesOrSkip());
  }

  @Test
  void blocksAreTheEmbeddingsAndTheSixEncoderLayers() {
    List<String> blocks = GraphParameters.of(model).blocks();
    System.out.println("MiniLM blocks: " + blocks);
    assertEquals(
        List.of(
            "embeddings",
            "encoder.layer.0",
            "encoder.layer.1",
            "encoder.layer.2",
            "encoder.layer.3",
            "encoder.layer.4",
            "encoder.layer.5"),
        blocks);
    // Every weight, including the MatMul weights the exporter renamed onnx::MatMul_*, is in the
    // layer whose nodes read it.
    Map<String, String> readBy = firstReader(model);
    for (GraphParameters.Parameter p : GraphParameters.of(model).all()) {
      assertEquals(GraphParameters.Role.WEIGHT, p.role(), p.name());
      Matcher m = LAYER.matcher(p.name().startsWith("onnx::") ? readBy.get(p.name()) : p.name());
      String expected = m.find() ? "encoder.layer." + m.group(1) : "embeddings";
      assertEquals(expected, p.block(), p.name());
    }
  }

  @Test
  void cutAtHiddenStatesAndMeanPooledHeadRunInOrtAndDjl() throws Exception {
    ModelProto cut = GraphSurgery.cut(model, MiniLm.OUTPUT);
    assertEquals(MiniLm.OUTPUT, cut.getGraph().getOutput(0).getName());
    assertArrayEquals(
        new long[] {-1, MiniLm.HIDDEN}, GraphSurgery.featureShape(model, "last_hidden_state"));

    ModelProto classifier =
        GraphSurgery.appendHead(
            model, MiniLm.OUTPUT, new HeadSpec(List.of(64), HeadSpec.Activation.RELU, 0.1f, 3), 7);
    assertTrue(
        classifier.getGraph().getNodeList().stream()
            .anyMatch(n -> n.getName().equals("head.pool") && n.getOpType().equals("ReduceMean")));

    float[] ort;
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, OnnxTensor> feeds = MiniLm.ortBatch(env);
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(classifier.toByteArray(), options);
        OrtSession.Result result = session.run(feeds)) {
      OnnxTensor logits = (OnnxTensor) result.get(GraphSurgery.LOGITS).orElseThrow();
      assertArrayEquals(new long[] {2, 3}, logits.getInfo().getShape());
      FloatBuffer b = logits.getFloatBuffer();
      ort = new float[b.remaining()];
      b.get(ort);
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }

    try (NDManager manager = NDManager.newBaseManager()) {
      OnnxBlock block = new OnnxBlock(classifier, FreezeSpec.lastBlocks(2).predicate(classifier));
      NDList batch = MiniLm.ndBatch(manager);
      block.initialize(
          manager, DataType.FLOAT32, batch.stream().map(NDArray::getShape).toArray(Shape[]::new));
      float[] djl =
          block.forward(new ParameterStore(manager, false), batch, false).head().toFloatArray();
      for (int i = 0; i < ort.length; i++) {
        assertEquals(ort[i], djl[i], 1e-4, "logit " + i);
      }
    }
  }

  @Test
  void lastTwoBlocksTrainEncoderLayersFourAndFiveAndTheHead() {
    ModelProto classifier = GraphSurgery.appendHead(model, MiniLm.OUTPUT, HeadSpec.linear(3), 7);
    Set<String> trainable = FreezeSpec.lastBlocks(2).trainable(classifier);
    Map<String, String> readBy = firstReader(classifier);
    for (String name : trainable) {
      String where = name.startsWith("onnx::") ? readBy.get(name) : name;
      assertTrue(
          GraphSurgery.isHead(name) || where.matches("/?encoder[./]layer\\.[45][./].*"),
          name + " (read by " + where + ") should be frozen");
    }
    // Per layer: q, k, v, attention output, intermediate and output dense (W + b), two LayerNorms.
    long perLayer = 4 * (384 * 384 + 384) + (384 * 1536 + 1536) + (1536 * 384 + 384) + 2 * 2 * 384;
    long head = 384 * 3 + 3;
    assertEquals(
        new ParameterCounts(2 * perLayer + head, 22_565_376 + head),
        FreezeSpec.lastBlocks(2).counts(classifier));
    assertEquals(2 * 16 + 2, trainable.size());
  }

  private static Map<String, String> firstReader(ModelProto m) {
    Map<String, String> readBy = new HashMap<>();
    for (NodeProto n : m.getGraph().getNodeList()) {
      for (String in : n.getInputList()) {
        readBy.putIfAbsent(in, n.getName());
      }
    }
    return readBy;
  }
}
