package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.model.EncoderSurgery;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphParameters;
import dev.graft.model.GraphSurgery;
import dev.graft.onnx.MiniLm;
import dev.graft.onnx.OnnxExporter;
import dev.graft.onnx.OnnxImport;
import dev.graft.onnx.OnnxTensors;
import dev.graft.onnx.ParityGate;
import dev.graft.text.TextExamples;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Text training on the real MiniLM at unit level, on texts generated from templates: transfer
 * learning on cached pooled features, fine-tuning of the last layer, the export with token inputs
 * and its parity gate, and what each strategy leaves unchanged.
 */
class TextTrainingTest {

  static final int MAX_LENGTH = 32;
  static final List<String> LABELS = List.of("offer", "work");

  @TempDir static Path dir;

  private static ModelProto pretrained;
  private static Path tokenizerFile;
  private static TextTokenizer tokenizer;
  private static TextExamples data;

  @BeforeAll
  static void load() throws Exception {
    pretrained = OnnxImport.load(MiniLm.bytesOrSkip());
    tokenizerFile = dir.resolve("tokenizer.json");
    try (InputStream in =
        TextTrainingTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
      Files.copy(in, tokenizerFile);
    }
    tokenizer = TextTokenizer.load(tokenizerFile, MAX_LENGTH);
    data = templates(160, 11);
  }

  @AfterAll
  static void close() {
    if (tokenizer != null) {
      tokenizer.close();
    }
  }

  /**
   * Offers ("win a free cruise today, reply now") against work mail ("the budget review moved to
   * Friday"), a few of them long enough to be truncated at 32 tokens.
   */
  static TextExamples templates(int n, long seed) {
    String[][] offers = {
      {"win", "claim", "get", "grab", "collect"},
      {"a free", "your exclusive", "a guaranteed", "an instant", "a surprise"},
      {"cruise", "cash prize", "gift card", "iphone", "vacation", "discount"},
      {"today", "now", "this weekend", "before midnight", "while stocks last"},
      {"reply now!", "click the link!", "call us today!", "limited offer!", "act fast!"}
    };
    String[][] work = {
      {"the", "our", "next week's", "tomorrow's", "the quarterly"},
      {"budget review", "team meeting", "design document", "release plan", "status report"},
      {"moved to", "is scheduled for", "needs comments by", "was shared on", "is due"},
      {"friday", "monday morning", "the end of the sprint", "thursday at ten", "next tuesday"},
      {"thanks.", "see you there.", "please review.", "regards, anna.", "let me know."}
    };
    Random random = new Random(seed);
    List<String> texts = new ArrayList<>();
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = i % 2;
      String[][] t = labels[i] == 0 ? offers : work;
      StringBuilder b = new StringBuilder();
      int repeats = i % 10 == 0 ? 4 : 1; // every tenth text runs past 32 tokens
      for (int r = 0; r < repeats; r++) {
        for (String[] slot : t) {
          b.append(slot[random.nextInt(slot.length)]).append(' ');
        }
      }
      texts.add(b.toString().trim());
    }
    return new TextExamples() {
      @Override
      public int size() {
        return n;
      }

      @Override
      public String text(int i) {
        return texts.get(i);
      }

      @Override
      public int label(int i) {
        return labels[i];
      }
    };
  }

  static RunSpec spec(Strategy strategy, int lastBlocks, double lr, int epochs) {
    return new RunSpec(
            0,
            "text",
            "all-minilm-l6-v2",
            "",
            "texts",
            strategy,
            lastBlocks,
            List.of(),
            new RunSpec.Head(List.of(), "", 0),
            new RunSpec.Hyper(
                "ADAMW",
                lr,
                0,
                0.01,
                0,
                "LINEAR",
                0,
                0,
                0,
                16,
                epochs,
                0,
                null,
                false,
                false,
                false,
                MAX_LENGTH),
            new RunSpec.Split(0.1, 0.1, 0),
            7,
            "CPU",
            "")
        .withDefaults()
        .validate();
  }

  private static final int[] TRAIN = IntStream.range(0, 112).toArray();
  private static final int[] VALIDATION = IntStream.range(112, 136).toArray();
  private static final int[] TEST = IntStream.range(136, 160).toArray();

  @Test
  void batchesArePaddedToTheirLongestTextAndTruncationIsCounted() {
    BatchSource source = BatchSource.text(data, tokenizer, List.of(MiniLm.INPUTS));
    BatchSource.Batch shortOnes = source.batch(new int[] {1, 2, 3}, false, null);
    BatchSource.Batch withLong = source.batch(new int[] {0, 1}, false, null);
    TokenBatch s = shortOnes.tokens();
    assertTrue(s.length() < MAX_LENGTH, "short texts are not padded to the max length");
    assertEquals(IntStream.of(s.tokens()).max().getAsInt(), s.length());
    assertEquals(MAX_LENGTH, withLong.tokens().length());
    assertArrayEquals(new boolean[] {true, false}, withLong.tokens().truncated());
    assertArrayEquals(new int[] {1, 0, 1}, shortOnes.labels());
    String note = TrainingJob.truncationNote(source, TRAIN, tokenizer, new CancelToken());
    assertTrue(note.contains("12 of 112 training texts truncated"), note);
  }

  @Test
  void transferLearningFitsTheHeadOnCachedFeaturesAndKeepsEveryEncoderWeight() throws Exception {
    GraftedModel grafted = model(spec(Strategy.TRANSFER_LEARNING, 0, 0, 0));
    assertEquals(EncoderSurgery.POOLED, grafted.featureTensor());
    BatchSource raw = BatchSource.text(data, tokenizer, grafted.text().inputs());
    long[] featureShape = GraphSurgery.featureShape(grafted.graph(), grafted.featureTensor());
    assertArrayEquals(new long[] {384}, featureShape);
    long start = System.nanoTime();
    float[][] features =
        Features.compute(
            GraphSurgery.cut(grafted.graph(), grafted.featureTensor()),
            raw,
            IntStream.range(0, 136).toArray(),
            data.size(),
            Device.cpu(),
            new CancelToken());
    double featureSeconds = (System.nanoTime() - start) / 1e9;
    start = System.nanoTime();
    HeadSolver.Result fit =
        HeadSolver.fit(
            grafted.graph(),
            features,
            featureShape,
            data.labels(),
            TRAIN,
            VALIDATION,
            2,
            new CancelToken());
    System.out.printf(
        "text TL: features of 136 texts %.2f s, head fit %.2f s%n",
        featureSeconds, (System.nanoTime() - start) / 1e9);
    ModelProto trained = fit.graph();
    assertTrue(accuracy(trained, raw, TEST) >= 0.95, "TL test accuracy");
    ModelProto exported = exportAndGate(trained, grafted, raw);
    Map<String, float[]> before = floats(pretrained);
    int compared = 0;
    for (TensorProto t : exported.getGraph().getInitializerList()) {
      if (before.containsKey(t.getName()) && t.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
        assertArrayEquals(before.get(t.getName()), OnnxTensors.floats(t), t.getName());
        compared++;
      }
    }
    assertEquals(
        GraphParameters.of(grafted.graph()).weights().size() - 2,
        compared,
        "every encoder weight compared");
  }

  @Test
  void fineTuningTheLastLayerChangesOnlyThatLayerAndTheHead() throws Exception {
    RunSpec spec = spec(Strategy.FINE_TUNING, 1, 0.01, 2);
    GraftedModel grafted = model(spec);
    BatchSource raw = BatchSource.text(data, tokenizer, grafted.text().inputs());
    List<Map<String, Double>> epochs = new ArrayList<>();
    TrainingLoop loop =
        new TrainingLoop(
            spec,
            Device.cpu(),
            raw,
            TRAIN,
            VALIDATION,
            null,
            2,
            new Checkpoint(Files.createTempDirectory(dir, "ft")),
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
    ModelProto trained = loop.run(grafted.graph(), epoch -> grafted.freeze());
    System.out.println("text FT last 1 layer: " + epochs);
    assertEquals(2, epochs.size());
    assertTrue(accuracy(trained, raw, TEST) >= 0.9, "FT test accuracy");
    ModelProto exported = exportAndGate(trained, grafted, raw);
    Map<String, float[]> before = floats(grafted.graph());
    Map<String, String> blockOf = new HashMap<>();
    GraphParameters.of(grafted.graph()).all().forEach(p -> blockOf.put(p.name(), p.block()));
    Set<String> changedBlocks = new HashSet<>();
    for (TensorProto t : exported.getGraph().getInitializerList()) {
      float[] was = before.get(t.getName());
      if (was != null && !java.util.Arrays.equals(was, OnnxTensors.floats(t))) {
        changedBlocks.add(blockOf.get(t.getName()));
      }
    }
    assertEquals(Set.of("encoder.layer.5", "head"), changedBlocks);
  }

  @Test
  void fromScratchReinitialisesEveryEncoderWeight() {
    GraftedModel grafted = model(spec(Strategy.FROM_SCRATCH, 0, 0.001, 1));
    Map<String, float[]> before = floats(pretrained);
    List<String> kept = new ArrayList<>();
    for (String name : GraphParameters.of(grafted.graph()).weights()) {
      float[] was = before.get(name);
      TensorProto now =
          grafted.graph().getGraph().getInitializerList().stream()
              .filter(t -> t.getName().equals(name))
              .findFirst()
              .orElseThrow();
      if (was != null && java.util.Arrays.equals(was, OnnxTensors.floats(now))) {
        kept.add(name);
      }
    }
    assertEquals(List.of(), kept, "pre-trained weights left in a FROM_SCRATCH encoder");
    assertEquals(FreezeSpec.none(), grafted.freeze());
  }

  @Test
  void theHeadOptionNormalisesThePooledEmbedding() {
    RunSpec plain = spec(Strategy.TRANSFER_LEARNING, 0, 0, 0);
    RunSpec normalized =
        new RunSpec(
            plain.experimentId(),
            plain.name(),
            plain.baseModel(),
            plain.architecture(),
            plain.dataset(),
            plain.strategy(),
            0,
            List.of(),
            new RunSpec.Head(List.of(), "relu", 0, true),
            plain.hyper(),
            plain.split(),
            plain.seed(),
            plain.device(),
            "");
    GraftedModel grafted = model(normalized);
    assertTrue(grafted.text().normalize());
    assertTrue(grafted.text().metadataJson().contains("\"normalize\":true"));
    assertTrue(
        grafted.graph().getGraph().getNodeList().stream()
            .anyMatch(n -> n.getName().equals("pool.normalize")));
    assertFalse(
        model(plain).graph().getGraph().getNodeList().stream()
            .anyMatch(n -> n.getName().equals("pool.normalize")));
  }

  private static GraftedModel model(RunSpec spec) {
    return ModelFactory.textModel(
        spec, pretrained, MiniLm.OUTPUT, tokenizerFile, "all-minilm-l6-v2", LABELS);
  }

  private static double accuracy(ModelProto graph, BatchSource source, int[] indices) {
    try (NDManager manager = NDManager.newBaseManager()) {
      ai.djl.nn.Block block = new dev.graft.onnx.OnnxBlock(graph, n -> false);
      block.initialize(manager, DataType.FLOAT32, source.initShapes());
      BatchSource.Batch b = source.batch(indices, false, null);
      NDArray logits =
          block
              .forward(new ParameterStore(manager, false), source.arrays(manager, b), false)
              .singletonOrThrow();
      long[] predicted = logits.argMax(1).toLongArray();
      int right = 0;
      for (int i = 0; i < predicted.length; i++) {
        right += predicted[i] == b.labels()[i] ? 1 : 0;
      }
      return (double) right / predicted.length;
    }
  }

  /** Exports as the job does, passes the parity gate on a padded batch, checks the signature. */
  private static ModelProto exportAndGate(ModelProto trained, GraftedModel grafted, BatchSource raw)
      throws Exception {
    Path onnx = Files.createTempDirectory(dir, "export").resolve("model.onnx");
    try (NDManager manager = NDManager.newBaseManager()) {
      dev.graft.onnx.OnnxBlock block = new dev.graft.onnx.OnnxBlock(trained, n -> false);
      block.initialize(manager, DataType.FLOAT32, raw.initShapes());
      OnnxExporter.export(
          block, Map.of(TextInput.METADATA_KEY, grafted.text().metadataJson()), onnx);
      BatchSource.Batch batch = raw.batch(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, false, null);
      assertTrue(batch.tokens().tokens()[1] < batch.tokens().length(), "a padded row");
      ParityGate.Result parity =
          ParityGate.check(block, raw.arrays(manager, batch), onnx, ParityGate.DEFAULT_TOLERANCE);
      System.out.println("text parity max abs diff: " + parity.maxAbsDiff());
      assertTrue(parity.passed(), "parity " + parity);
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(onnx.toString(), options)) {
      assertEquals(List.of(MiniLm.INPUTS), new ArrayList<>(session.getInputNames()));
      assertEquals(Set.of(GraphSurgery.LOGITS), session.getOutputNames());
      String text = session.getMetadata().getCustomMetadata().get(TextInput.METADATA_KEY);
      assertTrue(text.contains("\"max_length\":" + MAX_LENGTH), text);
      assertTrue(text.contains("\"tokenizer_sha256\":\"" + tokenizer.sha256() + "\""), text);
      assertFalse(text.contains("\"normalize\":true"), text);
    }
    return OnnxImport.load(onnx);
  }

  private static Map<String, float[]> floats(ModelProto model) {
    Map<String, float[]> out = new HashMap<>();
    for (TensorProto t : model.getGraph().getInitializerList()) {
      if (t.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
        out.put(t.getName(), OnnxTensors.floats(t));
      }
    }
    return out;
  }
}
