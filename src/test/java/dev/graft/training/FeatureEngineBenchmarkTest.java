package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.model.Architectures;
import dev.graft.model.GraphSurgery;
import dev.graft.onnx.MiniLm;
import dev.graft.onnx.OnnxImport;
import dev.graft.serving.ExecutionProvider;
import dev.graft.serving.SessionFactory;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bench (not a timed test): feature extraction examples/s of the frozen backbone on ONNX Runtime
 * ({@link OrtFeatures}) against {@link DjlFeatures} (OnnxBlock), on the same batches in alternating
 * rounds after a warm-up, both with their default thread pools (or, with {@code
 * -Dai.djl.pytorch.num_threads=N}, N threads each: the fair setting on a shared machine). Prints
 * the median examples/s of each and their ratio: MiniLM's last_hidden_state at 128 tokens (batches
 * 16 and 32) and cnn-small (fresh weights, 1x28x28, batch 256).
 *
 * <p>{@code ./mvnw -o -Pbench test -Dtest=FeatureEngineBenchmarkTest}; {@code -Dgraft.bench.rounds}
 * sizes it.
 */
@Tag("bench")
class FeatureEngineBenchmarkTest {

  private static final int ROUNDS = Integer.getInteger("graft.bench.rounds", 8);
  private static final int WARMUP = 2;

  @TempDir Path dir;

  @Test
  void miniLmAt128TokensOrtAgainstOnnxBlock() throws Exception {
    ModelProto cut = GraphSurgery.cut(OnnxImport.load(MiniLm.bytesOrSkip()), MiniLm.OUTPUT);
    try (TextTokenizer tokenizer = TextTokenizer.load(tokenizerFile(), 128)) {
      for (int batch : new int[] {16, 32}) {
        TokenBatch tokens = tokenizer.encode(texts(batch));
        assertEquals(128, tokens.length(), "every text fills the 128 tokens");
        FeatureBatch b = FeatureBatch.of(tokens, Features.inputNames(cut));
        report("MiniLM last_hidden_state, 128 tokens, batch " + batch, cut, b);
      }
    }
  }

  @Test
  void cnnSmallBatch256OrtAgainstOnnxBlock() {
    ModelProto backbone = Architectures.get("cnn-small").backbone(5);
    int n = 256;
    float[] x = new float[n * 28 * 28];
    SplittableRandom r = new SplittableRandom(3);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextDouble();
    }
    report(
        "cnn-small 1x28x28, batch 256",
        backbone,
        FeatureBatch.of(Features.inputNames(backbone).get(0), x, n, new long[] {1, 28, 28}));
  }

  private static void report(String what, ModelProto backbone, FeatureBatch batch) {
    double[] djl = new double[ROUNDS];
    double[] ort = new double[ROUNDS];
    try (OrtFeatures o = new OrtFeatures(backbone, ortSessions());
        DjlFeatures d = new DjlFeatures(backbone, Device.cpu())) {
      for (int i = 0; i < WARMUP; i++) {
        time(d, batch);
        time(o, batch);
      }
      for (int i = 0; i < ROUNDS; i++) {
        // Alternate who goes first so that neither always runs on a warmer cache.
        if (i % 2 == 0) {
          djl[i] = time(d, batch);
          ort[i] = time(o, batch);
        } else {
          ort[i] = time(o, batch);
          djl[i] = time(d, batch);
        }
      }
    }
    double djlRate = batch.size() / median(djl);
    double ortRate = batch.size() / median(ort);
    System.out.printf(
        "BENCH feature extraction, %s: OnnxBlock %.1f examples/s, ORT %.1f examples/s, ORT/OnnxBlock"
            + " %.2fx (median of %d rounds)%n",
        what, djlRate, ortRate, ortRate / djlRate, ROUNDS);
    assertTrue(djlRate > 0 && ortRate > 0);
  }

  /** CPU sessions as a run opens them, with libtorch's thread count when it is set. */
  private static SessionFactory ortSessions() {
    int threads = Integer.getInteger("ai.djl.pytorch.num_threads", 0);
    return new SessionFactory(ExecutionProvider.CPU, 0, 0, threads, 0, "ALL_OPT");
  }

  private static double time(FeatureExtractor engine, FeatureBatch batch) {
    long t0 = System.nanoTime();
    float[][] rows = engine.extract(batch);
    double s = (System.nanoTime() - t0) / 1e9;
    return rows.length == batch.size() ? s : Double.NaN;
  }

  /** Texts long enough to be truncated at 128 tokens, each different. */
  private static List<String> texts(int n) {
    String[] words = {
      "transfer", "learning", "frozen", "backbone", "features", "runtime", "java", "tokens",
      "encoder", "attention", "batch", "cache", "head", "solver", "gradient", "image"
    };
    SplittableRandom r = new SplittableRandom(n);
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      StringBuilder s = new StringBuilder();
      for (int w = 0; w < 200; w++) {
        s.append(words[r.nextInt(words.length)]).append(' ');
      }
      out.add(s.toString());
    }
    return out;
  }

  private Path tokenizerFile() throws Exception {
    System.setProperty("ai.djl.offline", "true");
    Path file = dir.resolve(TextTokenizer.FILE_NAME);
    try (InputStream in = getClass().getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
      Assumptions.assumeTrue(in != null, "MiniLM tokenizer not on the test classpath");
      Files.copy(in, file);
    }
    return file;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
