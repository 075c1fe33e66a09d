package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.onnx.MiniLm;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxImport;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Masked mean pooling grafted onto the real MiniLM export: ONNX Runtime and the DJL executor both
 * give sentence-transformers' pooling of ORT's own hidden states, padding changes nothing, and the
 * classifier takes exactly the token inputs and returns only logits.
 */
class EncoderSurgeryTest {

  private static ModelProto encoder;

  @BeforeAll
  static void load() throws Exception {
    encoder = OnnxImport.load(MiniLm.bytesOrSkip());
  }

  @Test
  void pooledOutputIsSentenceTransformersMeanPoolingOfOrtHiddenStates() throws Exception {
    float[] hidden = ort(encoder, MiniLm.OUTPUT, MiniLm.feeds(), MiniLm.shape());
    int t = MiniLm.INPUT_IDS[0].length;
    int h = MiniLm.HIDDEN;
    for (boolean normalize : new boolean[] {false, true}) {
      float[] reference = new float[2 * h];
      for (int b = 0; b < 2; b++) {
        double[] sum = new double[h];
        for (int s = 0; s < MiniLm.LENGTHS[b]; s++) {
          for (int k = 0; k < h; k++) {
            sum[k] += hidden[(b * t + s) * h + k];
          }
        }
        double norm = 0;
        for (int k = 0; k < h; k++) {
          sum[k] /= MiniLm.LENGTHS[b];
          norm += sum[k] * sum[k];
        }
        norm = normalize ? Math.max(Math.sqrt(norm), 1e-12) : 1;
        for (int k = 0; k < h; k++) {
          reference[b * h + k] = (float) (sum[k] / norm);
        }
      }
      ModelProto pooled = EncoderSurgery.pool(encoder, MiniLm.OUTPUT, normalize);
      float[] viaOrt = ort(pooled, EncoderSurgery.POOLED, MiniLm.feeds(), MiniLm.shape());
      float[] viaDjl = djl(pooled);
      assertEquals(reference.length, viaOrt.length);
      for (int i = 0; i < reference.length; i++) {
        assertEquals(reference[i], viaOrt[i], 1e-5, "ORT pooled " + i + " normalize=" + normalize);
        assertEquals(reference[i], viaDjl[i], 1e-4, "DJL pooled " + i + " normalize=" + normalize);
      }
    }
  }

  @Test
  void paddingDoesNotChangeTheEmbedding() throws Exception {
    ModelProto pooled = EncoderSurgery.pool(encoder, MiniLm.OUTPUT, false);
    int length = MiniLm.LENGTHS[0];
    long[][] unpadded = new long[3][length];
    for (int j = 0; j < length; j++) {
      unpadded[0][j] = MiniLm.INPUT_IDS[0][j];
      unpadded[1][j] = 1;
    }
    float[] alone = ort(pooled, EncoderSurgery.POOLED, unpadded, new long[] {1, length});
    float[] padded = ort(pooled, EncoderSurgery.POOLED, MiniLm.feeds(), MiniLm.shape());
    for (int k = 0; k < MiniLm.HIDDEN; k++) {
      assertEquals(alone[k], padded[k], 1e-5, "dimension " + k);
    }
  }

  @Test
  void classifierTakesTheTokenInputsAndReturnsOnlyLogits() throws Exception {
    ModelProto classifier =
        EncoderSurgery.appendHead(encoder, MiniLm.OUTPUT, false, HeadSpec.linear(3), 7);
    List<String> inputs =
        classifier.getGraph().getInputList().stream().map(ValueInfoProto::getName).toList();
    assertEquals(List.of(MiniLm.INPUTS), inputs);
    for (ValueInfoProto v : classifier.getGraph().getInputList()) {
      assertEquals(TensorProto.DataType.INT64_VALUE, v.getType().getTensorType().getElemType());
    }
    assertEquals(
        List.of(GraphSurgery.LOGITS),
        classifier.getGraph().getOutputList().stream().map(ValueInfoProto::getName).toList());
    float[] logits = ort(classifier, GraphSurgery.LOGITS, MiniLm.feeds(), MiniLm.shape());
    assertEquals(6, logits.length);
    // Pooling holds no weights: "last 2 blocks" is still encoder layers 4 and 5 plus the head,
    // and transfer learning trains only the head.
    assertEquals(
        List.of(
            "embeddings",
            "encoder.layer.0",
            "encoder.layer.1",
            "encoder.layer.2",
            "encoder.layer.3",
            "encoder.layer.4",
            "encoder.layer.5"),
        GraphParameters.of(classifier).blocks());
    Set<String> head = FreezeSpec.backbone().trainable(classifier);
    assertEquals(Set.of("head.0.weight", "head.0.bias"), head);
    long perLayer = 4 * (384 * 384 + 384) + (384 * 1536 + 1536) + (1536 * 384 + 384) + 2 * 2 * 384;
    assertEquals(
        2 * perLayer + 384 * 3 + 3, FreezeSpec.lastBlocks(2).counts(classifier).trainable());
    assertTrue(
        FreezeSpec.lastBlocks(2).trainable(classifier).stream()
            .noneMatch(n -> n.startsWith(EncoderSurgery.POOL_PREFIX)));
  }

  private static float[] djl(ModelProto model) {
    try (NDManager manager = NDManager.newBaseManager()) {
      OnnxBlock block = new OnnxBlock(model, name -> false);
      NDList batch = MiniLm.ndBatch(manager);
      block.initialize(
          manager, DataType.FLOAT32, batch.stream().map(NDArray::getShape).toArray(Shape[]::new));
      return block.forward(new ParameterStore(manager, false), batch, false).head().toFloatArray();
    }
  }

  static float[] ort(ModelProto model, String output, long[][] feeds, long[] shape)
      throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, OnnxTensor> in = new java.util.LinkedHashMap<>();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(model.toByteArray(), options)) {
      for (int i = 0; i < MiniLm.INPUTS.length; i++) {
        if (session.getInputNames().contains(MiniLm.INPUTS[i])) {
          in.put(
              MiniLm.INPUTS[i],
              OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(feeds[i]), shape));
        }
      }
      try (OrtSession.Result result = session.run(in)) {
        FloatBuffer b = ((OnnxTensor) result.get(output).orElseThrow()).getFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
      }
    } finally {
      in.values().forEach(OnnxTensor::close);
    }
  }
}
