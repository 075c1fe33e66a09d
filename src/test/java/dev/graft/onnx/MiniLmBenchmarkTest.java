package dev.graft.onnx;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Inference latency of the pre-trained MiniLM encoder on the 2 x 16 token batch: {@link OnnxBlock}
 * on DJL's PyTorch engine against an ONNX Runtime session on the same file, both with their default
 * thread pools (or, with {@code -Dai.djl.pytorch.num_threads=N}, N threads each: the fair setting
 * on a machine shared with other jobs), in alternating rounds after a warm-up. Prints the median
 * and quartiles of each.
 *
 * <p>{@code ./mvnw -o -Pbench test -Dtest=MiniLmBenchmarkTest}; {@code -Dgraft.bench.rounds} sizes
 * it.
 */
@Tag("bench")
class MiniLmBenchmarkTest {

  private static final int ROUNDS = Integer.getInteger("graft.bench.rounds", 30);
  private static final int WARMUP = 5;

  @Test
  void onnxBlockAgainstOnnxRuntime() throws Exception {
    byte[] bytes = MiniLm.bytesOrSkip();
    ModelProto model = OnnxImport.load(bytes);
    double[] djl = new double[ROUNDS];
    double[] ort = new double[ROUNDS];
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, OnnxTensor> feeds = MiniLm.ortBatch(env);
    try (NDManager manager = NDManager.newBaseManager();
        OrtSession.SessionOptions options = options();
        OrtSession session = env.createSession(bytes, options)) {
      OnnxBlock block = new OnnxBlock(model, n -> false);
      NDList batch = MiniLm.ndBatch(manager);
      block.initialize(
          manager, DataType.FLOAT32, batch.stream().map(NDArray::getShape).toArray(Shape[]::new));
      for (int i = 0; i < WARMUP; i++) {
        forward(block, batch, manager);
        run(session, feeds);
      }
      for (int i = 0; i < ROUNDS; i++) {
        // Alternate who goes first so that neither always runs on a warmer cache.
        if (i % 2 == 0) {
          djl[i] = forward(block, batch, manager);
          ort[i] = run(session, feeds);
        } else {
          ort[i] = run(session, feeds);
          djl[i] = forward(block, batch, manager);
        }
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
    System.out.printf(
        "MiniLM 2x16 forward, ms (p25 / median / p75) over %d rounds: OnnxBlock %s, ORT %s,"
            + " median ratio OnnxBlock/ORT %.2f%n",
        ROUNDS, quartiles(djl), quartiles(ort), median(djl) / median(ort));
    assertTrue(median(djl) > 0 && median(ort) > 0);
  }

  /**
   * ORT with as many intra-op threads as libtorch when {@code ai.djl.pytorch.num_threads} is set.
   */
  private static OrtSession.SessionOptions options() throws Exception {
    OrtSession.SessionOptions options = new OrtSession.SessionOptions();
    Integer threads = Integer.getInteger("ai.djl.pytorch.num_threads");
    if (threads != null) {
      options.setIntraOpNumThreads(threads);
    }
    return options;
  }

  private static double forward(OnnxBlock block, NDList batch, NDManager parent) {
    try (NDManager scratch = parent.newSubManager()) {
      long t0 = System.nanoTime();
      NDList out = block.forward(new ParameterStore(scratch, false), batch, false);
      float[] values = out.head().toFloatArray();
      long t1 = System.nanoTime();
      out.attach(scratch);
      return values.length > 0 ? (t1 - t0) / 1e6 : Double.NaN;
    }
  }

  private static double run(OrtSession session, Map<String, OnnxTensor> feeds) throws Exception {
    long t0 = System.nanoTime();
    try (OrtSession.Result r = session.run(feeds)) {
      float[] values = new float[((OnnxTensor) r.get(0)).getFloatBuffer().remaining()];
      ((OnnxTensor) r.get(0)).getFloatBuffer().get(values);
      return (System.nanoTime() - t0) / 1e6;
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  private static String quartiles(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return String.format(
        "%.1f / %.1f / %.1f", s[s.length / 4], s[s.length / 2], s[3 * s.length / 4]);
  }
}
