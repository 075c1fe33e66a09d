package dev.graft.training;

import static dev.graft.training.TrainingFixtures.assertBitIdentical;
import static dev.graft.training.TrainingFixtures.awaitEnd;
import static dev.graft.training.TrainingFixtures.backbone;
import static dev.graft.training.TrainingFixtures.watchAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.EarlyStopping;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingPlan;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.model.BaseModels;
import dev.graft.model.ModelRef;
import dev.graft.model.ModelVersions;
import dev.graft.onnx.OnnxImport;
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 10 §1 through gRPC: with the defaults ({@code epochs: 0}) a run plans its own budget and
 * converges — a transfer-learning head by L-BFGS, GRADUAL as linear probe then fine-tuning at a
 * range-tested rate — where the old fixed budget (5 epochs) left the same head far from converged.
 */
@QuarkusTest
class ConvergenceTest extends GraftTest {

  @Inject BaseModels baseModels;
  @Inject ModelVersions versions;

  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;

  @BeforeEach
  void setUp() throws InterruptedException {
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.largeData(channel);
    TrainingFixtures.baseModel(channel);
    experiment = TrainingFixtures.experiment(channel, "convergence");
  }

  /** 48 training examples of the eight shapes, 120 validation and 120 test examples. */
  private StartRunRequest.Builder fewShot(Strategy strategy) {
    return StartRunRequest.newBuilder()
        .setExperimentId(experiment)
        .setBaseModel(TrainingFixtures.BASE)
        .setDataset(TrainingFixtures.LARGE)
        .setStrategy(strategy)
        .setSplit(
            SplitSpec.newBuilder()
                .setValidationFraction(0.1)
                .setTestFraction(0.1)
                .setMaxTrainExamples(48))
        .setSeed(11)
        .setDevice(dev.graft.api.v1.Device.CPU);
  }

  private Run runToEnd(StartRunRequest request) throws InterruptedException {
    Run done = awaitEnd(channel, training.startRun(request).getId(), Duration.ofMinutes(4));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    return done;
  }

  @Test
  void aDefaultTransferRunFitsItsHeadToConvergence() throws InterruptedException {
    Run converged =
        runToEnd(fewShot(Strategy.TRANSFER_LEARNING).setModelName("tl-default").build());
    Run fixed =
        runToEnd(
            fewShot(Strategy.TRANSFER_LEARNING)
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(5))
                .setModelName("tl-five-epochs")
                .build());
    // What a long gradient run (10x the rate, 100 epochs) gets out of the same frozen features.
    Run tuned =
        runToEnd(
            fewShot(Strategy.TRANSFER_LEARNING)
                .setHyperParameters(
                    HyperParameters.newBuilder().setEpochs(100).setLearningRate(0.01))
                .setModelName("tl-tuned")
                .build());
    double accuracy = converged.getTestMetricsOrThrow("test_accuracy");
    double old = fixed.getTestMetricsOrThrow("test_accuracy");
    double best = tuned.getTestMetricsOrThrow("test_accuracy");
    System.out.printf(
        "CONVERGENCE 48 examples of 8 shapes: TL default (L-BFGS) %.3f, TL 5 epochs %.3f, TL lr"
            + " 0.01 x 100 epochs %.3f%n",
        accuracy, old, best);
    assertTrue(accuracy >= old + 0.15, "default " + accuracy + " vs five epochs " + old);
    // 120 test examples: one standard error is about 0.045.
    assertTrue(accuracy >= best - 0.06, "default " + accuracy + " vs tuned " + best);

    // The plan says what was done and why.
    TrainingPlan plan = converged.getPlan();
    assertEquals("L-BFGS", plan.getHeadFit());
    assertEquals(List.of("linear-probe"), plan.getPhasesList());
    assertEquals(48, plan.getTrainExamples());
    assertEquals(SoftmaxRegression.L2_GRID.length, plan.getL2SearchCount());
    assertTrue(
        plan.getL2SearchList().stream().anyMatch(p -> p.getL2() == plan.getL2()), plan.toString());
    assertTrue(plan.getReason().contains("L-BFGS"), plan.getReason());
    assertEquals("ort", plan.getFeatureCache().getEngine(), plan.toString());
    assertEquals("gradient", fixed.getPlan().getHeadFit());
    assertEquals(5, fixed.getPlan().getEpochs());
    // One recorded fit with its validation metrics and the L2 it picked.
    Map<Integer, Map<String, Double>> metrics = TrainingFixtures.untimedMetrics(converged);
    assertEquals(List.of(1), List.copyOf(metrics.keySet()));
    assertEquals(plan.getL2(), metrics.get(1).get("l2"));
    assertTrue(metrics.get(1).get("val_accuracy") >= 0.4, metrics.toString());

    // The head went into the same graph: the exported backbone is the base model's, bit for bit.
    Map<String, float[]> base = backbone(OnnxImport.load(baseModels.file(TrainingFixtures.BASE)));
    Map<String, float[]> exported =
        backbone(OnnxImport.load(versions.resolve(ModelRef.latest("tl-default")).onnxPath()));
    base.forEach((name, w) -> assertBitIdentical(w, exported.get(name), name));

    // WatchRun (replayed history) shows the plan.
    List<RunEvent> events = watchAll(channel, converged.getId());
    assertTrue(events.stream().anyMatch(RunEvent::hasPlan), events.toString());
  }

  @Test
  void gradualIsALinearProbeThenFineTuningAtARangeTestedRate() throws InterruptedException {
    // Default budget; a short patience only keeps the test quick.
    StartRunRequest request =
        fewShot(Strategy.GRADUAL)
            .setHyperParameters(
                HyperParameters.newBuilder()
                    .setEarlyStopping(
                        EarlyStopping.newBuilder()
                            .setEnabled(true)
                            .setPatience(2)
                            .setRestoreBest(true)))
            .setModelName("lp-ft")
            .build();
    long id = training.startRun(request).getId();
    List<RunEvent> events = watchAll(channel, id);
    Run done = awaitEnd(channel, id, Duration.ofMinutes(4));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());

    TrainingPlan plan = done.getPlan();
    assertEquals(List.of("linear-probe", "fine-tune"), plan.getPhasesList());
    assertEquals("L-BFGS, then gradient", plan.getHeadFit());
    assertTrue(plan.getLearningRateSource().startsWith("range test"), plan.toString());
    assertTrue(
        plan.getLearningRate() >= RangeTest.LOWEST
            && plan.getLearningRate() <= RangeTest.HIGHEST_ADAM,
        "range test rate " + plan.getLearningRate());
    assertEquals(Budget.epochs(48, 32, false), plan.getEpochs());
    assertEquals("COSINE", plan.getSchedule());
    assertTrue(plan.getWarmupEpochs() >= 1, plan.toString());
    assertEquals(2, plan.getPatience());
    // The linear probe's features were cached by ONNX Runtime, checked against OnnxBlock.
    assertEquals("ort", plan.getFeatureCache().getEngine(), plan.toString());
    assertEquals("", plan.getFeatureCache().getFallback());

    // Phases in the stream: probe, its metrics (epoch 0), then fine-tuning epochs from 1.
    List<String> phases =
        events.stream().filter(RunEvent::hasPhase).map(e -> e.getPhase().getPhase()).toList();
    assertEquals(List.of("linear-probe", "fine-tune"), phases);
    int probeAt = indexOf(events, e -> e.hasEpoch() && e.getEpoch().getEpoch() == 0);
    int fineTuneAt =
        indexOf(events, e -> e.hasPhase() && e.getPhase().getPhase().equals("fine-tune"));
    int firstEpochAt = indexOf(events, e -> e.hasEpoch() && e.getEpoch().getEpoch() == 1);
    assertTrue(probeAt < fineTuneAt && fineTuneAt < firstEpochAt, events.toString());
    Map<Integer, Map<String, Double>> metrics = TrainingFixtures.untimedMetrics(done);
    double probe = metrics.get(0).get("probe_val_accuracy");
    assertTrue(probe >= 0.4, "linear probe val accuracy " + probe);
    assertTrue(metrics.keySet().stream().anyMatch(e -> e >= 1), metrics.toString());
    // Early stopping restored the best epoch; fine-tuning from the probe kept what it had.
    double best =
        metrics.entrySet().stream()
            .filter(e -> e.getKey() >= 1)
            .mapToDouble(e -> e.getValue().get("val_accuracy"))
            .max()
            .orElseThrow();
    System.out.printf(
        "CONVERGENCE 48 examples: GRADUAL probe val %.3f, best fine-tune val %.3f, test %.3f, lr"
            + " %.3g%n",
        probe, best, done.getTestMetricsOrThrow("test_accuracy"), plan.getLearningRate());
    assertTrue(best >= probe - 0.1, "fine-tuning wrecked the probe: " + metrics);
  }

  private static int indexOf(List<RunEvent> events, java.util.function.Predicate<RunEvent> p) {
    for (int i = 0; i < events.size(); i++) {
      if (p.test(events.get(i))) {
        return i;
      }
    }
    throw new AssertionError("no such event in " + events);
  }
}
