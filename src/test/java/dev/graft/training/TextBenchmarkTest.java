package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphSurgery;
import dev.graft.onnx.MiniLm;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxExporter;
import dev.graft.onnx.OnnxImport;
import dev.graft.text.TextExamples;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MiniLM text training speed on CPU at sequence length 128, batch 16: fine-tuning examples/s (last
 * 2 layers, and all) against ONNX Runtime inference of the exported classifier on the same batch,
 * and what the feature cache saves transfer learning per epoch. Prints the numbers.
 *
 * <p>{@code ./mvnw -o -Pbench test -Dtest=TextBenchmarkTest -Dgraft.skipTorchModels=true}
 */
@Tag("bench")
class TextBenchmarkTest {

  private static final int LENGTH = 128;
  private static final int BATCH = 16;
  private static final int EXAMPLES = Integer.getInteger("graft.bench.text.examples", 64);

  @TempDir Path dir;

  @Test
  void fineTuningAndCachedTransferLearningAgainstOrtInference() throws Exception {
    ModelProto pretrained = OnnxImport.load(MiniLm.bytesOrSkip());
    Path tokenizerFile = dir.resolve("tokenizer.json");
    try (InputStream in =
        TextBenchmarkTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
      Files.copy(in, tokenizerFile);
    }
    // Every text is longer than 128 tokens, so every batch is [16, 128].
    TextExamples data = TextTrainingTest.templates(EXAMPLES + BATCH, 5);
    TextExamples longTexts =
        new TextExamples() {
          @Override
          public int size() {
            return data.size();
          }

          @Override
          public String text(int i) {
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < 12; k++) {
              b.append(data.text((i + k) % data.size())).append(' ');
            }
            return b.toString();
          }

          @Override
          public int label(int i) {
            return data.label(i);
          }
        };
    int[] train = IntStream.range(0, EXAMPLES).toArray();
    int[] validation = IntStream.range(EXAMPLES, EXAMPLES + BATCH).toArray();
    Map<String, Double> results = new LinkedHashMap<>();
    try (TextTokenizer tokenizer = TextTokenizer.load(tokenizerFile, LENGTH)) {
      BatchSource raw = BatchSource.text(longTexts, tokenizer, List.of(MiniLm.INPUTS));
      TokenBatch probe = raw.batch(validation, false, null).tokens();
      assertTrue(probe.length() == LENGTH && probe.batch() == BATCH);

      for (int last : new int[] {2, 0}) {
        RunSpec spec = spec(Strategy.FINE_TUNING, last, 1);
        GraftedModel grafted = model(spec, pretrained, tokenizerFile);
        List<Map<String, Double>> epochs = new ArrayList<>();
        loop(spec, raw, train, validation, epochs).run(grafted.graph(), e -> grafted.freeze());
        results.put(
            "FT " + (last == 0 ? "all layers" : "last " + last + " layers") + " examples/s",
            epochs.get(0).get("examples_per_second"));
      }

      // ORT inference of the exported classifier on one [16, 128] batch.
      GraftedModel tl = model(spec(Strategy.TRANSFER_LEARNING, 0, 1), pretrained, tokenizerFile);
      Path onnx = dir.resolve("model.onnx");
      try (NDManager manager = NDManager.newBaseManager()) {
        OnnxBlock block = new OnnxBlock(tl.graph(), n -> false);
        block.initialize(manager, DataType.FLOAT32, raw.initShapes());
        OnnxExporter.export(block, Map.of(), onnx);
      }
      results.put("ORT inference examples/s", ortExamplesPerSecond(onnx, probe));

      // TL: an epoch through the frozen encoder, against computing the cache once and an epoch on
      // the cached features.
      RunSpec tlSpec = spec(Strategy.TRANSFER_LEARNING, 0, 1);
      List<Map<String, Double>> rawEpochs = new ArrayList<>();
      long start = System.nanoTime();
      loop(tlSpec, raw, train, validation, rawEpochs).run(tl.graph(), e -> FreezeSpec.backbone());
      double rawEpoch = (System.nanoTime() - start) / 1e9;
      start = System.nanoTime();
      long[] featureShape = GraphSurgery.featureShape(tl.graph(), tl.featureTensor());
      ModelProto encoder = GraphSurgery.cut(tl.graph(), tl.featureTensor());
      results.put("TL cut + feature shape (ORT probes), s", (System.nanoTime() - start) / 1e9);
      start = System.nanoTime();
      float[][] features =
          Features.compute(
              encoder,
              raw,
              IntStream.range(0, EXAMPLES + BATCH).toArray(),
              longTexts.size(),
              Device.cpu(),
              new CancelToken());
      double cacheSeconds = (System.nanoTime() - start) / 1e9;
      BatchSource cached = BatchSource.cached(features, longTexts.labels(), featureShape);
      ModelProto head = HeadGraph.extract(tl.graph(), tl.featureTensor(), featureShape);
      start = System.nanoTime();
      loop(tlSpec, cached, train, validation, new ArrayList<>()).run(head, e -> FreezeSpec.none());
      double cachedEpoch = (System.nanoTime() - start) / 1e9;
      results.put("TL epoch through the encoder, s", rawEpoch);
      results.put("TL feature cache (once), s", cacheSeconds);
      results.put("TL epoch on cached features, s", cachedEpoch);
      results.put("TL per-epoch speed-up", rawEpoch / cachedEpoch);
      results.put(
          "TL 20-epoch speed-up (cache included)",
          20 * rawEpoch / (cacheSeconds + 20 * cachedEpoch));
    }
    results.forEach((k, v) -> System.out.printf("text bench: %s = %.2f%n", k, v));
    assertTrue(results.values().stream().allMatch(v -> v > 0));
  }

  private static RunSpec spec(Strategy strategy, int lastBlocks, int epochs) {
    return new RunSpec(
            0,
            "bench",
            "all-minilm-l6-v2",
            "",
            "texts",
            strategy,
            lastBlocks,
            List.of(),
            new RunSpec.Head(List.of(), "", 0),
            new RunSpec.Hyper(
                "ADAMW", 1e-3, 0, 0.01, 0, "LINEAR", 0, 0, 0, BATCH, epochs, 0, null, false, false,
                false, LENGTH),
            new RunSpec.Split(0.1, 0.1, 0),
            3,
            "CPU",
            "")
        .withDefaults()
        .validate();
  }

  private static GraftedModel model(RunSpec spec, ModelProto pretrained, Path tokenizer) {
    return ModelFactory.textModel(
        spec, pretrained, MiniLm.OUTPUT, tokenizer, "all-minilm-l6-v2", TextTrainingTest.LABELS);
  }

  private TrainingLoop loop(
      RunSpec spec,
      BatchSource source,
      int[] train,
      int[] validation,
      List<Map<String, Double>> epochs)
      throws Exception {
    return new TrainingLoop(
        spec,
        Device.cpu(),
        source,
        train,
        validation,
        null,
        2,
        new Checkpoint(Files.createTempDirectory(dir, "run")),
        new CancelToken(),
        new TrainingLoop.Listener() {
          @Override
          public void progress(int e, int done, int total, double perSecond, double loss) {}

          @Override
          public void epochEnded(int epoch, Map<String, Double> values) {
            epochs.add(values);
          }
        },
        1_000_000);
  }

  private static double ortExamplesPerSecond(Path onnx, TokenBatch batch) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    long[] shape = {batch.batch(), batch.length()};
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(onnx.toString(), options)) {
      for (String name : MiniLm.INPUTS) {
        feeds.put(name, OnnxTensor.createTensor(env, LongBuffer.wrap(batch.input(name)), shape));
      }
      for (int i = 0; i < 3; i++) {
        session.run(feeds).close();
      }
      int rounds = 10;
      long start = System.nanoTime();
      for (int i = 0; i < rounds; i++) {
        session.run(feeds).close();
      }
      return rounds * batch.batch() / ((System.nanoTime() - start) / 1e9);
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }
}
