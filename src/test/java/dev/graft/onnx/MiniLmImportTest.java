package dev.graft.onnx;

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
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real pre-trained MiniLM encoder through the model core: imported at opset 11, normalised to
 * 17, executed by {@link OnnxBlock} and exported, with ONNX Runtime on the original file as the
 * reference.
 */
class MiniLmImportTest {

  private static final double TOLERANCE = 1e-4;

  @Test
  void importsRunsAndExportsMatchingOnnxRuntime(@TempDir Path dir) throws Exception {
    byte[] original = MiniLm.bytesOrSkip();
    ModelProto source = ModelProto.parseFrom(original);
    assertEquals(11, OnnxImport.defaultOpset(source));
    TreeSet<String> ops = new TreeSet<>();
    for (NodeProto n : source.getGraph().getNodeList()) {
      ops.add(n.getOpType());
    }
    TreeSet<String> missing = new TreeSet<>(ops);
    missing.removeAll(SupportedOps.NAMES);
    assertTrue(missing.isEmpty(), "MiniLM operators not supported: " + missing);

    ModelProto model = OnnxImport.load(original);
    assertEquals(SupportedOps.TARGET_OPSET, OnnxImport.defaultOpset(model));

    Ort reference = Ort.run(original);
    assertArrayEquals(new long[] {2, 16, MiniLm.HIDDEN}, reference.shape());

    Path exported = dir.resolve("minilm-17.onnx");
    try (NDManager manager = NDManager.newBaseManager()) {
      OnnxBlock block = new OnnxBlock(model, name -> false);
      NDList batch = MiniLm.ndBatch(manager);
      Shape[] shapes = batch.stream().map(NDArray::getShape).toArray(Shape[]::new);
      block.initialize(manager, DataType.FLOAT32, shapes);
      assertEquals(22_565_376, block.totalParameterCount());
      assertEquals(0, block.trainableParameterCount());

      NDList out = block.forward(new ParameterStore(manager, false), batch, false);
      assertArrayEquals(reference.shape(), out.head().getShape().getShape());
      float[] djl = out.head().toFloatArray();
      double diff = maxAbsDiff(reference.values(), djl);
      assertTrue(diff <= TOLERANCE, "DJL vs ORT max abs diff " + diff);
      assertArrayEquals(
          reference.shape(), block.getOutputShapes(shapes)[0].getShape(), "inferred shape");

      OnnxExporter.export(block, Map.of("base_model", "all-minilm-l6-v2"), exported);
      ParityGate.Result gate = ParityGate.check(block, batch, exported, TOLERANCE);
      assertTrue(gate.passed(), "parity gate on the exported file: " + gate);
      System.out.printf(
          "MiniLM max abs diff: OnnxBlock vs ORT(original) %.3g, OnnxBlock vs ORT(exported) %.3g%n",
          diff, gate.maxAbsDiff());
    }
    ModelProto written = ModelProto.parseFrom(java.nio.file.Files.readAllBytes(exported));
    assertEquals(SupportedOps.TARGET_OPSET, OnnxImport.defaultOpset(written));
    Ort again = Ort.run(java.nio.file.Files.readAllBytes(exported));
    assertArrayEquals(reference.shape(), again.shape());
    double diff = maxAbsDiff(reference.values(), again.values());
    assertTrue(diff <= TOLERANCE, "exported opset-17 file vs original under ORT: " + diff);
    System.out.printf("MiniLM max abs diff: ORT(exported) vs ORT(original) %.3g%n", diff);
  }

  static double maxAbsDiff(float[] a, float[] b) {
    assertEquals(a.length, b.length, "element count");
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      double d = Math.abs((double) a[i] - b[i]);
      max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(max, d);
    }
    return max;
  }

  /** last_hidden_state of the fixed batch under ONNX Runtime. */
  record Ort(long[] shape, float[] values) {
    static Ort run(byte[] model) throws Exception {
      OrtEnvironment env = OrtEnvironment.getEnvironment();
      Map<String, OnnxTensor> feeds = MiniLm.ortBatch(env);
      try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
          OrtSession session = env.createSession(model, options);
          OrtSession.Result result = session.run(feeds)) {
        OnnxTensor y = (OnnxTensor) result.get(MiniLm.OUTPUT).orElseThrow();
        java.nio.FloatBuffer b = y.getFloatBuffer();
        float[] v = new float[b.remaining()];
        b.get(v);
        return new Ort(y.getInfo().getShape(), v);
      } finally {
        feeds.values().forEach(OnnxTensor::close);
      }
    }
  }
}
