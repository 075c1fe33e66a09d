package dev.graft.training;

import static dev.graft.training.TrainingFixtures.assertBitIdentical;
import static dev.graft.training.TrainingFixtures.awaitEnd;
import static dev.graft.training.TrainingFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.FreezeSpec;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.core.Artifacts;
import dev.graft.model.BaseModels;
import dev.graft.model.GraphParameters;
import dev.graft.model.ModelRef;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.onnx.OnnxImport;
import dev.graft.onnx.OnnxTensors;
import dev.graft.support.GraftTest;
import dev.graft.support.TextDatasetSupport;
import io.grpc.Status;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Text runs on MiniLM through gRPC, on SpamAssassin e-mail bodies uploaded as a text dataset:
 * transfer learning keeps every encoder weight bit-identical, fine-tuning the last 2 layers changes
 * only encoder layers 4 and 5 and the head; both export a model with token inputs, the tokenizer
 * beside it and {@code graft.text} in its metadata. Short texts (32 tokens) and one epoch keep it
 * to seconds per run on a CPU.
 */
@QuarkusTest
class TextTrainingFlowTest extends GraftTest {

  static final String DATASET = "spam-ham-text-flow";

  @Inject BaseModelBootstrap bootstrap;
  @Inject BaseModels baseModels;
  @Inject ModelVersions versions;

  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;

  @BeforeEach
  void setUp() {
    TextDatasetSupport.corpusDir(); // skips without the corpus
    bootstrap.registerMinilm();
    training = TrainingServiceGrpc.newBlockingStub(channel);
    experiment = TrainingFixtures.experiment(channel, "text-flow");
    uploadOnce();
  }

  private static boolean uploaded;

  private synchronized void uploadOnce() {
    if (!uploaded) {
      TextDatasetSupport.uploadSpamHam(channel, DATASET, 240);
      uploaded = true;
    }
  }

  private StartRunRequest.Builder request(Strategy strategy, String model) {
    return StartRunRequest.newBuilder()
        .setExperimentId(experiment)
        .setBaseModel(BaseModelBootstrap.MINILM)
        .setDataset(DATASET)
        .setStrategy(strategy)
        .setHyperParameters(HyperParameters.newBuilder().setMaxSequenceLength(32))
        .setSplit(SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2))
        .setSeed(5)
        .setDevice(Device.CPU)
        .setModelName(model);
  }

  private Run runToEnd(StartRunRequest request) throws InterruptedException {
    Run done = awaitEnd(channel, training.startRun(request).getId(), Duration.ofMinutes(5));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    return done;
  }

  @Test
  void transferLearningFitsTheHeadAndKeepsEveryEncoderWeight() throws Exception {
    Run done = runToEnd(request(Strategy.TRANSFER_LEARNING, "spam-tl").build());
    assertTrue(done.getFeatureCache(), "a frozen encoder uses the feature cache");
    double accuracy = done.getTestMetricsOrThrow("test_accuracy");
    System.out.println(
        "text TL through gRPC: test accuracy " + accuracy + ", plan " + done.getPlan());
    assertTrue(accuracy >= 0.8, "TL test accuracy " + accuracy + " is not clearly above 0.5");
    assertTrue(
        done.getPlan().getReason().contains("max_sequence_length 32"), done.getPlan().getReason());
    ModelProto exported = exported(done);
    Map<String, float[]> minilm =
        floats(OnnxImport.load(baseModels.file(BaseModelBootstrap.MINILM)));
    int compared = 0;
    for (Map.Entry<String, float[]> e : floats(exported).entrySet()) {
      if (!e.getKey().startsWith("head.") && minilm.containsKey(e.getKey())) {
        assertBitIdentical(minilm.get(e.getKey()), e.getValue(), e.getKey());
        compared++;
      }
    }
    assertEquals(
        GraphParameters.of(exported).weights().size() - 2, compared, "every encoder weight");
  }

  @Test
  void fineTuningTheLastTwoLayersChangesOnlyThemAndTheHead() throws Exception {
    Run done =
        runToEnd(
            request(Strategy.FINE_TUNING, "spam-ft2")
                .setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(2))
                .setHyperParameters(
                    HyperParameters.newBuilder()
                        .setMaxSequenceLength(32)
                        .setEpochs(1)
                        .setBatchSize(16)
                        .setLearningRate(3e-3))
                .build());
    assertFalse(done.getFeatureCache());
    double accuracy = done.getTestMetricsOrThrow("test_accuracy");
    System.out.println("text FT last 2 through gRPC: test accuracy " + accuracy);
    assertTrue(accuracy >= 0.75, "FT test accuracy " + accuracy + " is not clearly above 0.5");
    ModelProto exported = exported(done);
    Map<String, float[]> minilm =
        floats(OnnxImport.load(baseModels.file(BaseModelBootstrap.MINILM)));
    Map<String, String> blockOf = new HashMap<>();
    GraphParameters.of(exported).all().forEach(p -> blockOf.put(p.name(), p.block()));
    Set<String> changed = new HashSet<>();
    for (Map.Entry<String, float[]> e : floats(exported).entrySet()) {
      float[] was = minilm.get(e.getKey());
      if (e.getKey().startsWith("head.")) {
        changed.add("head");
      } else if (was != null && maxAbsDiff(was, e.getValue()) > 0) {
        changed.add(blockOf.get(e.getKey()));
      }
    }
    assertEquals(Set.of("encoder.layer.4", "encoder.layer.5", "head"), changed);
  }

  @Test
  void gradualProbesThenFineTunesTheLastLayer() throws Exception {
    Run done =
        runToEnd(
            request(Strategy.GRADUAL, "spam-gradual")
                .setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(1))
                .setHyperParameters(
                    HyperParameters.newBuilder()
                        .setMaxSequenceLength(32)
                        .setEpochs(2)
                        .setHeadEpochs(1)
                        .setBatchSize(16))
                .setSplit(
                    SplitSpec.newBuilder()
                        .setValidationFraction(0.2)
                        .setTestFraction(0.2)
                        .setMaxTrainExamples(96))
                .build());
    double accuracy = done.getTestMetricsOrThrow("test_accuracy");
    System.out.println("text GRADUAL through gRPC: test accuracy " + accuracy);
    assertTrue(accuracy >= 0.7, "GRADUAL test accuracy " + accuracy);
    assertEquals(Set.of("encoder.layer.5", "head"), changedBlocks(exported(done)));
  }

  @Test
  void fromScratchChangesEveryEncoderInitializer() throws Exception {
    Run done =
        runToEnd(
            request(Strategy.FROM_SCRATCH, "spam-scratch")
                .setHyperParameters(
                    HyperParameters.newBuilder()
                        .setMaxSequenceLength(32)
                        .setEpochs(1)
                        .setBatchSize(16))
                .setSplit(
                    SplitSpec.newBuilder()
                        .setValidationFraction(0.2)
                        .setTestFraction(0.2)
                        .setMaxTrainExamples(96))
                .build());
    assertFalse(done.getFeatureCache());
    System.out.println(
        "text FROM_SCRATCH through gRPC: test accuracy "
            + done.getTestMetricsOrThrow("test_accuracy"));
    ModelProto exported = exported(done);
    Map<String, float[]> minilm =
        floats(OnnxImport.load(baseModels.file(BaseModelBootstrap.MINILM)));
    int compared = 0;
    java.util.List<String> kept = new java.util.ArrayList<>();
    for (Map.Entry<String, float[]> e : floats(exported).entrySet()) {
      float[] was = minilm.get(e.getKey());
      if (!e.getKey().startsWith("head.") && was != null) {
        compared++;
        if (java.util.Arrays.equals(was, e.getValue())) {
          kept.add(e.getKey());
        }
      }
    }
    assertEquals(java.util.List.of(), kept, "pre-trained initializers left in FROM_SCRATCH");
    assertEquals(
        GraphParameters.of(exported).weights().size() - 2, compared, "every encoder weight");
  }

  /** The blocks (or "head") whose initializers differ from MiniLM's. */
  private Set<String> changedBlocks(ModelProto exported) throws Exception {
    Map<String, float[]> minilm =
        floats(OnnxImport.load(baseModels.file(BaseModelBootstrap.MINILM)));
    Map<String, String> blockOf = new HashMap<>();
    GraphParameters.of(exported).all().forEach(p -> blockOf.put(p.name(), p.block()));
    Set<String> changed = new HashSet<>();
    for (Map.Entry<String, float[]> e : floats(exported).entrySet()) {
      float[] was = minilm.get(e.getKey());
      if (e.getKey().startsWith("head.")) {
        changed.add("head");
      } else if (was != null && maxAbsDiff(was, e.getValue()) > 0) {
        changed.add(blockOf.get(e.getKey()));
      }
    }
    return changed;
  }

  @Test
  void aTextDatasetOnAnImageModelIsRefused() throws Exception {
    TrainingFixtures.baseModel(channel);
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "dataset '"
            + DATASET
            + "' holds texts but base model '"
            + TrainingFixtures.BASE
            + "' takes images; use a text base model such as all-minilm-l6-v2",
        () ->
            training.startRun(
                request(Strategy.TRANSFER_LEARNING, "")
                    .setBaseModel(TrainingFixtures.BASE)
                    .build()));
  }

  /** The run's model version: token inputs, its tokenizer beside it, graft.text naming it. */
  private ModelProto exported(Run run) throws Exception {
    String name = run.getModelVersion().split(":")[0];
    ModelVersionInfo version = versions.resolve(ModelRef.latest(name));
    Path onnx = version.onnxPath();
    Path tokenizer = onnx.resolveSibling("tokenizer.json");
    assertTrue(Files.isRegularFile(tokenizer), "tokenizer.json beside " + onnx);
    String sha = Artifacts.sha256(tokenizer);
    assertEquals(Artifacts.sha256(baseModels.tokenizerFile(BaseModelBootstrap.MINILM)), sha);
    ModelProto model = OnnxImport.load(onnx);
    Map<String, String> metadata = new LinkedHashMap<>();
    model.getMetadataPropsList().forEach(p -> metadata.put(p.getKey(), p.getValue()));
    assertEquals(
        "{\"tokenizer\":\"tokenizer.json\",\"tokenizer_sha256\":\""
            + sha
            + "\",\"max_length\":32,\"pooling\":\"mean\",\"normalize\":false}",
        metadata.get("graft.text"));
    assertEquals(
        java.util.List.of("input_ids", "attention_mask", "token_type_ids"),
        model.getGraph().getInputList().stream().map(v -> v.getName()).toList());
    assertEquals(
        java.util.List.of("logits"),
        model.getGraph().getOutputList().stream().map(v -> v.getName()).toList());
    return model;
  }

  private static Map<String, float[]> floats(ModelProto model) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (TensorProto t : model.getGraph().getInitializerList()) {
      if (t.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
        out.put(t.getName(), OnnxTensors.floats(t));
      }
    }
    return out;
  }
}
