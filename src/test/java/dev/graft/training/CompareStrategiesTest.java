package dev.graft.training;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.CompareStrategiesRequest;
import dev.graft.api.v1.Comparison;
import dev.graft.api.v1.ComparisonCell;
import dev.graft.api.v1.ComparisonServiceGrpc;
import dev.graft.api.v1.CutPointProbe;
import dev.graft.api.v1.GetComparisonRequest;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ListRunsRequest;
import dev.graft.api.v1.ProbeLayersRequest;
import dev.graft.api.v1.ProbeLayersResponse;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * CompareStrategies through gRPC: one ordinary run per (strategy, size) on one split, the table,
 * verdicts and recommendation from their numbers, WatchComparison to the end, and cancel.
 */
@QuarkusTest
class CompareStrategiesTest extends GraftTest {

  private ComparisonServiceGrpc.ComparisonServiceBlockingStub comparisons;
  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;

  @BeforeEach
  void setUp() throws InterruptedException {
    comparisons = ComparisonServiceGrpc.newBlockingStub(channel);
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.targetData(channel);
    TrainingFixtures.baseModel(channel);
    experiment = TrainingFixtures.experiment(channel, "compare");
  }

  private CompareStrategiesRequest.Builder request(String name) {
    return CompareStrategiesRequest.newBuilder()
        .setExperimentId(experiment)
        .setName(name)
        .setBaseModel(TrainingFixtures.BASE)
        .setDataset(TrainingFixtures.TARGET)
        .addStrategies(Strategy.TRANSFER_LEARNING)
        .addStrategies(Strategy.FINE_TUNING)
        // 8 examples, and all of the training part (120 × 0.6 = 72).
        .addTrainingSizes(8)
        .addTrainingSizes(1.0)
        .setHyperParameters(HyperParameters.newBuilder().setEpochs(2).setBatchSize(16))
        .setSplit(SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2))
        .setSeed(3)
        .setDevice(dev.graft.api.v1.Device.CPU);
  }

  @Test
  void comparisonRunsEveryCellOnOneSplitAndReportsTheTable() {
    Comparison queued = comparisons.compareStrategies(request("tl-vs-ft").build());
    assertEquals("RUNNING", queued.getStatus());
    assertEquals(4, queued.getRunsTotal());

    List<Comparison> seen = watch(queued.getId());
    Comparison done = seen.get(seen.size() - 1);
    assertEquals("SUCCEEDED", done.getStatus(), done.toString());
    assertEquals(4, done.getRunsDone());
    assertEquals("", done.getProbeStatus(), "no probe sweep asked for");
    assertFalse(done.hasProbeSweep());
    assertTrue(seen.size() >= 2, "progress before the final table: " + seen.size());
    assertEquals(
        done,
        comparisons.getComparison(
            GetComparisonRequest.newBuilder().setComparisonId(queued.getId()).build()));

    // Cells by size then strategy, each an ordinary run of the requested size.
    assertEquals(
        List.of(8, 8, 72, 72),
        done.getCellsList().stream().map(ComparisonCell::getTrainingExamples).toList());
    assertEquals(
        List.of(
            Strategy.TRANSFER_LEARNING,
            Strategy.FINE_TUNING,
            Strategy.TRANSFER_LEARNING,
            Strategy.FINE_TUNING),
        done.getCellsList().stream().map(ComparisonCell::getStrategy).toList());
    Set<String> splits = new HashSet<>();
    for (ComparisonCell cell : done.getCellsList()) {
      assertEquals(1, cell.getRunsSucceeded());
      Run run = training.getRun(GetRunRequest.newBuilder().setRunId(cell.getRunIds(0)).build());
      assertEquals(RunStatus.SUCCEEDED, run.getStatus());
      assertEquals(cell.getTrainingExamples(), run.getConfig().getSplit().getMaxTrainExamples());
      assertEquals(run.getTestMetricsOrThrow("test_accuracy"), cell.getTestAccuracy(), 1e-12);
      assertEquals(run.getTrainableParameters(), cell.getTrainableParameters());
      assertFalse(run.getModelVersion().isEmpty(), "every run is served like any other");
      assertTrue(cell.getTrainingSeconds() > 0 && cell.getExamplesPerSecond() > 0);
      splits.add(run.getSplitHash());
    }
    assertEquals(Set.of(done.getSplitHash()), splits, "same validation and test examples");
    long fineTuned = done.getCells(1).getTrainableParameters();
    assertTrue(done.getCells(0).getTrainableParameters() < fineTuned, "TL trains only the head");

    // Verdicts and the recommendation come from these numbers.
    assertEquals(2, done.getVerdictsCount());
    for (int i = 0; i < 2; i++) {
      ComparisonCell a = done.getCells(2 * i);
      ComparisonCell b = done.getCells(2 * i + 1);
      ComparisonCell best = a.getTestAccuracy() >= b.getTestAccuracy() ? a : b;
      assertEquals(best.getStrategy(), done.getVerdicts(i).getWinner());
      assertEquals(
          Math.abs(a.getTestAccuracy() - b.getTestAccuracy()),
          done.getVerdicts(i).getMargin(),
          1e-12);
      assertFalse(done.getVerdicts(i).getSignificant(), "one repeat: noise unknown");
    }
    String text = done.getRecommendation().toLowerCase(java.util.Locale.ROOT);
    assertTrue(text.contains("with 8 training examples"), text);
    assertTrue(text.contains("noise not measured"), text);
    assertTrue(
        text.contains(
            String.format(
                java.util.Locale.ROOT, "%.3f", done.getVerdicts(1).getWinnerTestAccuracy())),
        text);

    // The runs are in the experiment like any other.
    List<Long> listed =
        training
            .listRuns(ListRunsRequest.newBuilder().setExperimentId(experiment).build())
            .getRunsList()
            .stream()
            .map(Run::getId)
            .toList();
    for (ComparisonCell cell : done.getCellsList()) {
      assertTrue(listed.contains(cell.getRunIds(0)));
    }
  }

  @Test
  void aComparisonWithProbeLayersStoresTheSweepOnItsSplitAndNamesTheBestCutPoint() {
    Comparison queued =
        comparisons.compareStrategies(
            request("with-probes")
                .clearStrategies()
                .addStrategies(Strategy.TRANSFER_LEARNING)
                .clearTrainingSizes()
                .addTrainingSizes(1.0)
                .setProbeLayers(true)
                .build());
    assertEquals("RUNNING", queued.getStatus());
    List<Comparison> seen = watch(queued.getId());
    Comparison done = seen.get(seen.size() - 1);
    assertEquals("SUCCEEDED", done.getStatus(), done.toString());
    assertEquals("SUCCEEDED", done.getProbeStatus(), done.getProbeError());
    assertEquals("", done.getProbeError());
    ProbeLayersResponse sweep = done.getProbeSweep();
    assertEquals(
        List.of("features.0", "features.1", "features.2"),
        sweep.getProbesList().stream().map(CutPointProbe::getName).toList());
    assertEquals(TrainingFixtures.BASE, sweep.getBaseModel());
    // The comparison's split: its largest size (all 72 training examples), its validation set.
    assertEquals(72, sweep.getTrainExamples());
    assertEquals(24, sweep.getValidationExamples());
    assertEquals(done.getSplitHash(), sweep.getSplitHash(), "the runs' own split");

    // The same numbers ProbeLayers gives for that split and seed.
    ProbeLayersResponse direct =
        comparisons.probeLayers(
            ProbeLayersRequest.newBuilder()
                .setBaseModel(TrainingFixtures.BASE)
                .setDataset(TrainingFixtures.TARGET)
                .setSplit(SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2))
                .setSeed(3)
                .build());
    assertEquals(direct.getBestCutPoint(), sweep.getBestCutPoint());
    for (int i = 0; i < direct.getProbesCount(); i++) {
      assertEquals(direct.getProbes(i).getValAccuracy(), sweep.getProbes(i).getValAccuracy());
      assertEquals(direct.getProbes(i).getL2(), sweep.getProbes(i).getL2());
    }

    // Stored: read back as it was; the recommendation says where to cut.
    assertEquals(
        done,
        comparisons.getComparison(
            GetComparisonRequest.newBuilder().setComparisonId(queued.getId()).build()));
    String text = done.getRecommendation();
    assertTrue(text.contains("Linear probes on the frozen backbone (72 training"), text);
    assertTrue(text.contains("'" + sweep.getBestCutPoint() + "'"), text);
  }

  @Test
  void cancellingAComparisonCancelsItsRuns() throws InterruptedException {
    Comparison queued =
        comparisons.compareStrategies(
            request("cancelled")
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(30).setBatchSize(4))
                .build());
    Comparison cancelled =
        comparisons.cancelComparison(
            GetComparisonRequest.newBuilder().setComparisonId(queued.getId()).build());
    Instant deadline = Instant.now().plus(Duration.ofMinutes(2));
    while (cancelled.getStatus().equals("RUNNING") && Instant.now().isBefore(deadline)) {
      Thread.sleep(200);
      cancelled =
          comparisons.getComparison(
              GetComparisonRequest.newBuilder().setComparisonId(queued.getId()).build());
    }
    assertEquals("CANCELLED", cancelled.getStatus());
    for (ComparisonCell cell : cancelled.getCellsList()) {
      Run run = training.getRun(GetRunRequest.newBuilder().setRunId(cell.getRunIds(0)).build());
      assertTrue(
          run.getStatus() == RunStatus.CANCELLED || run.getStatus() == RunStatus.SUCCEEDED,
          run.getStatus().toString());
    }
    assertTrue(
        cancelled.getCellsList().stream()
            .map(c -> training.getRun(GetRunRequest.newBuilder().setRunId(c.getRunIds(0)).build()))
            .anyMatch(r -> r.getStatus() == RunStatus.CANCELLED));
  }

  @Test
  void badRequestsAreRefusedBeforeAnyRunIsQueued() {
    int before =
        training
            .listRuns(ListRunsRequest.newBuilder().setExperimentId(experiment).build())
            .getRunsCount();
    assertStatus(
        Code.INVALID_ARGUMENT,
        "asks for 500 examples but the training part",
        () -> comparisons.compareStrategies(request("too-big").addTrainingSizes(500).build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "fewer than the 4 classes",
        () -> comparisons.compareStrategies(request("too-small").addTrainingSizes(2).build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "repeats 9 is out of range",
        () -> comparisons.compareStrategies(request("repeats").setRepeats(9).build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "use a whole number",
        () -> comparisons.compareStrategies(request("fraction").addTrainingSizes(2.5).build()));
    assertStatus(
        Code.NOT_FOUND,
        "dataset 'no-such-data'",
        () -> comparisons.compareStrategies(request("missing").setDataset("no-such-data").build()));
    assertStatus(
        Code.NOT_FOUND,
        "base model 'no-such-model'",
        () ->
            comparisons.compareStrategies(
                request("missing-model").setBaseModel("no-such-model").build()));
    assertStatus(
        Code.NOT_FOUND,
        "comparison 987654",
        () ->
            comparisons.getComparison(
                GetComparisonRequest.newBuilder().setComparisonId(987654).build()));
    assertEquals(
        before,
        training
            .listRuns(ListRunsRequest.newBuilder().setExperimentId(experiment).build())
            .getRunsCount());
  }

  @Test
  void smallerTrainingSetsLieInsideLargerOnes() {
    int[] train = IntStream.range(0, 200).toArray();
    int[] labels = IntStream.range(0, 200).map(i -> i % 4).toArray();
    int[] small = TrainingJob.limit(train, labels, 20, 3);
    int[] medium = TrainingJob.limit(train, labels, 60, 3);
    Set<Integer> inMedium = new HashSet<>();
    for (int i : medium) {
      inMedium.add(i);
    }
    assertEquals(20, small.length);
    assertEquals(60, medium.length);
    for (int i : small) {
      assertTrue(inMedium.contains(i), i + " of the 20-example set is not in the 60-example set");
    }
    assertArrayEquals(small, TrainingJob.limit(train, labels, 20, 3), "deterministic");
  }

  /** Every message of WatchComparison until the comparison ends, the final table last. */
  private List<Comparison> watch(long comparisonId) {
    List<Comparison> seen = new ArrayList<>();
    comparisons
        .withDeadlineAfter(5, TimeUnit.MINUTES)
        .watchComparison(GetComparisonRequest.newBuilder().setComparisonId(comparisonId).build())
        .forEachRemaining(seen::add);
    return seen;
  }
}
