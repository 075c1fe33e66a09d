package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.model.BaseModels;
import dev.graft.model.ModelRef;
import dev.graft.model.ModelVersions;
import dev.graft.onnx.OnnxImport;
import dev.graft.onnx.OnnxTensors;
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Pre-training a built-in backbone, then transfer learning on another task, through gRPC. */
@QuarkusTest
class TrainingFlowTest extends GraftTest {

  @Inject Runs runs;
  @Inject BaseModels baseModels;
  @Inject ModelVersions versions;

  private void registerSynthetic(String name, List<String> shapes, int perClass, long seed) {
    DatasetServiceGrpc.newBlockingStub(channel)
        .registerDataset(
            RegisterDatasetRequest.newBuilder()
                .setName(name)
                .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                .addAllClassNames(shapes)
                .setExamplesPerClass(perClass)
                .setSeed(seed)
                .build());
  }

  private RunView awaitEnd(long runId) throws InterruptedException {
    Instant deadline = Instant.now().plus(Duration.ofMinutes(4));
    while (Instant.now().isBefore(deadline)) {
      RunView v = runs.get(runId);
      if (v.status().isFinal()) {
        return v;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("run " + runId + " did not end in time");
  }

  @Test
  void pretrainThenTransferLearnThroughGrpc() throws Exception {
    long experiment =
        ExperimentServiceGrpc.newBlockingStub(channel)
            .createExperiment(CreateExperimentRequest.newBuilder().setName("flow").build())
            .getId();
    registerSynthetic("source-shapes", List.of("circle", "square", "triangle", "cross"), 150, 1);
    registerSynthetic("target-shapes", List.of("circle", "square", "triangle", "cross"), 40, 2);

    RunSpec pretrain =
        new RunSpec(
            experiment,
            "pretrain",
            "",
            "cnn-small",
            "source-shapes",
            Strategy_PRETRAINING(),
            0,
            List.of(),
            new RunSpec.Head(List.of(), "", 0),
            new RunSpec.Hyper(
                "ADAM", 0.003, 0, 0, 0, "", 0, 0, 0, 32, 4, 0, null, false, false, false),
            new RunSpec.Split(0.1, 0.1, 0),
            7,
            "CPU",
            "shapes-cnn");
    RunView pre = awaitEnd(runs.start(pretrain).id());
    assertEquals(dev.graft.experiments.RunStatus.SUCCEEDED, pre.status(), pre.error());
    assertTrue(pre.testMetrics().get("test_accuracy") > 0.5, pre.testMetrics().toString());
    assertTrue(baseModels.exists("shapes-cnn"));

    var training = TrainingServiceGrpc.newBlockingStub(channel);
    Run queued =
        training.startRun(
            StartRunRequest.newBuilder()
                .setExperimentId(experiment)
                .setBaseModel("shapes-cnn")
                .setDataset("target-shapes")
                .setStrategy(Strategy.TRANSFER_LEARNING)
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(3).setBatchSize(16))
                .setSplit(SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2))
                .setSeed(11)
                .setModelName("target-tl")
                .build());
    assertEquals(RunStatus.QUEUED, queued.getStatus());

    List<RunEvent> events = new ArrayList<>();
    Iterator<RunEvent> watch =
        training
            .withDeadlineAfter(4, TimeUnit.MINUTES)
            .watchRun(WatchRunRequest.newBuilder().setRunId(queued.getId()).build());
    watch.forEachRemaining(events::add);
    RunEvent last = events.get(events.size() - 1);
    assertEquals(RunStatus.SUCCEEDED, last.getStatus().getStatus(), last.toString());
    assertEquals(3, events.stream().filter(RunEvent::hasEpoch).count());
    assertTrue(events.stream().anyMatch(RunEvent::hasProgress));
    RunEvent export = events.stream().filter(RunEvent::hasExport).findFirst().orElseThrow();
    assertTrue(export.getExport().getParityPassed());
    assertTrue(export.getExport().getParityMaxAbsDiff() <= 1e-4);

    Run done = training.getRun(GetRunRequest.newBuilder().setRunId(queued.getId()).build());
    assertTrue(done.getFeatureCache(), "a frozen backbone without augmentation uses the cache");
    // The cache was computed by ONNX Runtime, checked against OnnxBlock: GetRun and WatchRun say
    // so.
    dev.graft.api.v1.FeatureCache cache = done.getPlan().getFeatureCache();
    assertEquals("ort", cache.getEngine(), cache.toString());
    assertEquals("CPU", cache.getProvider());
    assertEquals("ort", cache.getRequested());
    assertEquals("", cache.getFallback());
    assertEquals(32, cache.getParityExamples());
    assertTrue(cache.getParityMaxAbsDiff() <= cache.getParityTolerance(), cache.toString());
    assertTrue(cache.getParityTolerance() >= 1e-4, cache.toString());
    assertTrue(cache.getExamples() >= 32 && cache.getExamples() < 160, cache.toString());
    assertTrue(cache.getSeconds() > 0, cache.toString());
    RunEvent planned = events.stream().filter(RunEvent::hasPlan).findFirst().orElseThrow();
    assertEquals(cache, planned.getPlan().getFeatureCache());
    assertEquals("target-tl:1", done.getModelVersion());
    assertEquals(List.of("circle", "square", "triangle", "cross"), done.getLabelsList());
    assertTrue(done.getTrainableParameters() < done.getTotalParameters());
    assertEquals(16, done.getConfusionMatrixCount());
    assertFalse(done.getSplitHash().isEmpty());

    // Transfer learning leaves every backbone initializer of the base model bit-identical.
    ModelProto base = OnnxImport.load(baseModels.file("shapes-cnn"));
    ModelProto tuned =
        OnnxImport.load(versions.resolve(new ModelRef("target-tl", 0, "latest")).onnxPath());
    int compared = 0;
    for (TensorProto t : base.getGraph().getInitializerList()) {
      if (t.getName().startsWith("head.")) {
        continue;
      }
      TensorProto other =
          tuned.getGraph().getInitializerList().stream()
              .filter(o -> o.getName().equals(t.getName()))
              .findFirst()
              .orElseThrow(() -> new AssertionError("missing " + t.getName()));
      assertArrayEquals(bits(OnnxTensors.floats(t)), bits(OnnxTensors.floats(other)), t.getName());
      compared++;
    }
    assertTrue(compared > 5, "compared " + compared + " backbone initializers");
  }

  static int[] bits(float[] values) {
    int[] out = new int[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = Float.floatToRawIntBits(values[i]);
    }
    return out;
  }

  private static dev.graft.training.Strategy Strategy_PRETRAINING() {
    return dev.graft.training.Strategy.PRETRAINING;
  }
}
