package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import dev.graft.model.Architecture;
import dev.graft.model.Architectures;
import dev.graft.model.GraphSurgery;
import dev.graft.onnx.MiniLm;
import dev.graft.onnx.OnnxImport;
import dev.graft.onnx.ParityGate;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Feature caches on ONNX Runtime against OnnxBlock: the built-in image backbones (fresh weights),
 * the pre-trained MiniLM encoder on tokenised sentences, and the fall-back to OnnxBlock on a parity
 * mismatch.
 */
class FeatureEnginesTest {

  private static final double TOLERANCE = 1e-4;

  @TempDir Path dir;

  @Test
  void cnnSmallFeaturesOnOrtMatchOnnxBlock() {
    imageBackboneMatches("cnn-small");
  }

  @Test
  void resnetMiniFeaturesOnOrtMatchOnnxBlock() {
    imageBackboneMatches("resnet-mini");
  }

  private void imageBackboneMatches(String name) {
    Architecture arch = Architectures.get(name);
    ModelProto backbone = arch.backbone(11);
    int n = 40;
    long[] exampleShape = {1, 28, 28};
    float[] images = images(n, 28 * 28, 5);
    FeatureInputs inputs = indices -> imageBatch(images, indices, exampleShape);
    int[] all = IntStream.range(0, n).toArray();

    Features.Result ort =
        Features.compute(
            backbone,
            inputs,
            all,
            n,
            Device.cpu(),
            new CancelToken(),
            FeatureEngine.ORT,
            ParityGate.DEFAULT_TOLERANCE);
    Features.Result djl =
        Features.compute(
            backbone,
            inputs,
            all,
            n,
            Device.cpu(),
            new CancelToken(),
            FeatureEngine.DJL,
            ParityGate.DEFAULT_TOLERANCE);

    TrainingPlan.FeatureCache info = ort.info();
    assertEquals("ort", info.engine(), info.toString());
    assertEquals("CPU", info.provider());
    assertEquals("ort", info.requested());
    assertEquals("", info.fallback());
    assertEquals(Features.PARITY_EXAMPLES, info.parityExamples());
    assertEquals(n, info.examples());
    assertTrue(info.parityMaxAbsDiff() <= info.parityTolerance(), info.toString());
    assertEquals("djl", djl.info().engine());
    assertEquals(0, djl.info().parityExamples());
    double diff = maxAbsDiff(ort.features(), djl.features());
    System.out.printf("%s features: ORT vs OnnxBlock max |diff| %.3g%n", name, diff);
    assertTrue(diff <= TOLERANCE, name + " ORT vs OnnxBlock max abs diff " + diff);
    assertEquals(ort.features()[0].length, djl.features()[0].length);
  }

  @Test
  void miniLmHiddenStatesOnOrtMatchOnnxBlockOnTokenisedSentences() throws Exception {
    ModelProto model = OnnxImport.load(MiniLm.bytesOrSkip());
    ModelProto cut = GraphSurgery.cut(model, MiniLm.OUTPUT);
    List<String> sentences =
        List.of(
            "The cat sat on the mat.",
            "Transfer learning with Java is fun.",
            "ONNX Runtime runs the frozen encoder once over every example, and the head trains"
                + " on what it cached.",
            "Short one.");
    try (TextTokenizer tokenizer = TextTokenizer.load(tokenizerFile(), 128)) {
      TokenBatch tokens = tokenizer.encode(sentences);
      FeatureBatch batch = FeatureBatch.of(tokens, Features.inputNames(cut));
      assertEquals(List.copyOf(Arrays.asList(MiniLm.INPUTS)), Features.inputNames(cut));
      float[][] ort;
      float[][] djl;
      try (OrtFeatures o = new OrtFeatures(cut, Device.cpu());
          DjlFeatures d = new DjlFeatures(cut, Device.cpu())) {
        ort = o.extract(batch);
        djl = d.extract(batch);
      }
      assertEquals(sentences.size(), ort.length);
      assertEquals(tokens.length() * MiniLm.HIDDEN, ort[0].length);
      double diff = maxAbsDiff(ort, djl);
      System.out.printf(
          "MiniLM last_hidden_state %dx%d: ORT vs OnnxBlock max |diff| %.3g%n",
          tokens.batch(), tokens.length(), diff);
      assertTrue(diff <= TOLERANCE, "MiniLM ORT vs OnnxBlock max abs diff " + diff);

      // The cache over token inputs: each example's own padding-free row, checked engine.
      Features.Result cached =
          Features.compute(
              cut,
              indices ->
                  FeatureBatch.of(
                      tokenizer.encode(Arrays.stream(indices).mapToObj(sentences::get).toList()),
                      Features.inputNames(cut)),
              new int[] {2},
              sentences.size(),
              Device.cpu(),
              new CancelToken(),
              FeatureEngine.ORT,
              ParityGate.DEFAULT_TOLERANCE);
      assertEquals("ort", cached.info().engine());
      assertEquals(1, cached.info().parityExamples());
      assertEquals(tokens.tokens()[2] * MiniLm.HIDDEN, cached.features()[2].length);
    }
  }

  @Test
  void parityMismatchFallsBackToOnnxBlockForTheWholeCacheAndSaysWhy() {
    ModelProto backbone = Architectures.get("cnn-small").backbone(3);
    int n = 300; // two batches
    long[] exampleShape = {1, 28, 28};
    float[] images = images(n, 28 * 28, 9);
    FeatureInputs inputs = indices -> imageBatch(images, indices, exampleShape);
    int[] some = IntStream.range(0, n).filter(i -> i % 3 != 1).toArray();

    // A negative tolerance fails any comparison: the test hook for a mismatch.
    Features.Result fallback =
        Features.compute(
            backbone, inputs, some, n, Device.cpu(), new CancelToken(), FeatureEngine.ORT, -1);
    Features.Result djl =
        Features.compute(
            backbone,
            inputs,
            some,
            n,
            Device.cpu(),
            new CancelToken(),
            FeatureEngine.DJL,
            ParityGate.DEFAULT_TOLERANCE);

    TrainingPlan.FeatureCache info = fallback.info();
    assertEquals("djl", info.engine());
    assertEquals("ort", info.requested());
    assertEquals(Features.PARITY_EXAMPLES, info.parityExamples());
    assertTrue(
        info.fallback().startsWith("ONNX Runtime and OnnxBlock features differ by "),
        info.fallback());
    assertTrue(info.fallback().contains("more than the tolerance -1"), info.fallback());
    for (int i = 0; i < n; i++) {
      if (i % 3 == 1) {
        assertEquals(null, fallback.features()[i]);
      } else {
        assertArrayEquals(djl.features()[i], fallback.features()[i], "example " + i);
      }
    }
  }

  @Test
  void aBatchWithoutTheBackbonesInputsIsRefusedByName() {
    ModelProto backbone = Architectures.get("cnn-small").backbone(3);
    try (OrtFeatures ort = new OrtFeatures(backbone, Device.cpu())) {
      FeatureBatch wrong = FeatureBatch.of("pixels", new float[28 * 28], 1, new long[] {1, 28, 28});
      GraftException e =
          assertThrows(GraftException.InvalidArgument.class, () -> ort.extract(wrong));
      assertTrue(e.getMessage().contains("takes the inputs [input]"), e.getMessage());
    }
  }

  private Path tokenizerFile() throws Exception {
    System.setProperty("ai.djl.offline", "true");
    Path file = dir.resolve(TextTokenizer.FILE_NAME);
    try (InputStream in = getClass().getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
      org.junit.jupiter.api.Assumptions.assumeTrue(in != null, "MiniLM tokenizer not on classpath");
      Files.copy(in, file);
    }
    return file;
  }

  private static float[] images(int n, int size, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n * size];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextDouble(-1, 1);
    }
    return x;
  }

  private static FeatureBatch imageBatch(float[] images, int[] indices, long[] exampleShape) {
    int size = 1;
    for (long d : exampleShape) {
      size *= (int) d;
    }
    float[] x = new float[indices.length * size];
    for (int i = 0; i < indices.length; i++) {
      System.arraycopy(images, indices[i] * size, x, i * size, size);
    }
    return FeatureBatch.of("input", x, indices.length, exampleShape);
  }

  private static double maxAbsDiff(float[][] a, float[][] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      if (a[i] == null) {
        continue;
      }
      assertEquals(a[i].length, b[i].length, "row " + i);
      for (int k = 0; k < a[i].length; k++) {
        max = Math.max(max, Math.abs((double) a[i][k] - b[i][k]));
      }
    }
    return max;
  }
}
