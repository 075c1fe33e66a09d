package dev.graft.training;

import static dev.graft.training.TrainingFixtures.awaitEnd;
import static dev.graft.training.TrainingFixtures.small;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import dev.graft.api.v1.CancelRunRequest;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HeadSpec;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ListRunsRequest;
import dev.graft.api.v1.ListRunsResponse;
import dev.graft.api.v1.ResumeRunRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.support.GraftTest;
import io.grpc.Status;
import io.quarkus.test.junit.QuarkusTest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every refusal of the TrainingService reaches the client with the right status and message. */
@QuarkusTest
class TrainingErrorsTest extends GraftTest {

  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;

  @BeforeEach
  void setUp() throws InterruptedException {
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.targetData(channel);
    TrainingFixtures.baseModel(channel);
    experiment = TrainingFixtures.experiment(channel, "errors");
  }

  @Test
  void unknownReferencesAreNotFound() {
    assertStatus(
        Status.Code.NOT_FOUND,
        "experiment",
        () -> training.startRun(small(987_654, Strategy.TRANSFER_LEARNING).build()));
    assertStatus(
        Status.Code.NOT_FOUND,
        "'no-such-data'",
        () ->
            training.startRun(
                small(experiment, Strategy.TRANSFER_LEARNING).setDataset("no-such-data").build()));
    assertStatus(
        Status.Code.NOT_FOUND,
        "'no-such-model'",
        () ->
            training.startRun(
                small(experiment, Strategy.FINE_TUNING).setBaseModel("no-such-model").build()));
    assertStatus(
        Status.Code.NOT_FOUND,
        "run",
        () -> training.getRun(GetRunRequest.newBuilder().setRunId(987_654).build()));
    assertStatus(
        Status.Code.NOT_FOUND,
        "run",
        () ->
            training
                .watchRun(WatchRunRequest.newBuilder().setRunId(987_654).build())
                .forEachRemaining(e -> {}));
    assertStatus(
        Status.Code.NOT_FOUND,
        "run",
        () -> training.cancelRun(CancelRunRequest.newBuilder().setRunId(987_654).build()));
    assertStatus(
        Status.Code.NOT_FOUND,
        "run",
        () -> training.resumeRun(ResumeRunRequest.newBuilder().setRunId(987_654).build()));
  }

  @Test
  void singleClassDatasetIsAFailedPrecondition() {
    TrainingFixtures.synthetic(channel, "one-class", List.of("circle"), 10, 1);
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "at least 2",
        () ->
            training.startRun(
                small(experiment, Strategy.TRANSFER_LEARNING).setDataset("one-class").build()));
  }

  @Test
  void gpuWithoutGpuIsAFailedPrecondition() {
    Assumptions.assumeTrue(
        Engine.getInstance().getGpuCount() == 0, "this machine has a GPU: GPU runs are allowed");
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "no GPU",
        () ->
            training.startRun(
                small(experiment, Strategy.TRANSFER_LEARNING).setDevice(Device.GPU).build()));
  }

  @Test
  void missingStrategyIsInvalid() {
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "strategy is required",
        () -> training.startRun(small(experiment, Strategy.STRATEGY_UNSPECIFIED).build()));
  }

  /** Out-of-range values, negative and NaN included, are refused naming the field. */
  @Test
  void outOfRangeHyperParametersAreInvalidNamingTheField() {
    List<Case> cases = new ArrayList<>();
    cases.add(hyper("learning_rate", h -> h.setLearningRate(-0.1)));
    cases.add(hyper("learning_rate", h -> h.setLearningRate(11)));
    cases.add(hyper("learning_rate", h -> h.setLearningRate(Double.NaN)));
    cases.add(hyper("batch_size", h -> h.setBatchSize(-4)));
    cases.add(hyper("batch_size", h -> h.setBatchSize(5000)));
    cases.add(hyper("epochs", h -> h.setEpochs(-1)));
    cases.add(hyper("epochs", h -> h.setEpochs(1001)));
    cases.add(hyper("momentum", h -> h.setMomentum(1.0)));
    cases.add(hyper("weight_decay", h -> h.setWeightDecay(-0.01)));
    cases.add(hyper("backbone_lr_multiplier", h -> h.setBackboneLrMultiplier(-1)));
    cases.add(hyper("warmup_epochs", h -> h.setWarmupEpochs(2)));
    cases.add(
        new Case(
            "split.validation_fraction",
            r -> r.setSplit(SplitSpec.newBuilder().setValidationFraction(0.6))));
    cases.add(
        new Case(
            "split.validation_fraction",
            r -> r.setSplit(SplitSpec.newBuilder().setValidationFraction(-0.1))));
    cases.add(
        new Case(
            "split.test_fraction", r -> r.setSplit(SplitSpec.newBuilder().setTestFraction(1))));
    cases.add(new Case("head.dropout", r -> r.setHead(HeadSpec.newBuilder().setDropout(0.95f))));
    cases.add(new Case("head.dropout", r -> r.setHead(HeadSpec.newBuilder().setDropout(-0.1f))));
    cases.add(
        new Case("head.activation", r -> r.setHead(HeadSpec.newBuilder().setActivation("swish"))));
    for (Case c : cases) {
      StartRunRequest request = c.change().apply(small(experiment, Strategy.FINE_TUNING)).build();
      assertStatus(Status.Code.INVALID_ARGUMENT, c.field(), () -> training.startRun(request));
    }
  }

  @Test
  void cancelAndResumeOfEndedRunsAreFailedPreconditions() throws InterruptedException {
    Run started = training.startRun(small(experiment, Strategy.TRANSFER_LEARNING).build());
    Run done = awaitEnd(channel, started.getId(), Duration.ofMinutes(2));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "already ended SUCCEEDED",
        () -> training.cancelRun(CancelRunRequest.newBuilder().setRunId(done.getId()).build()));
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "is SUCCEEDED",
        () -> training.resumeRun(ResumeRunRequest.newBuilder().setRunId(done.getId()).build()));
  }

  /**
   * With one training slot, runs queued behind a long one are cancelled before they start: they
   * have no checkpoint, so they cannot resume; ListRuns filters them by experiment and status, a
   * page at a time.
   */
  @Test
  void queuedRunsCancelWithoutCheckpointAndListByExperimentAndStatus() throws InterruptedException {
    TrainingFixtures.largeData(channel);
    Run blocker =
        training.startRun(
            small(experiment, Strategy.FINE_TUNING)
                .setDataset(TrainingFixtures.LARGE)
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(50).setBatchSize(4))
                .build());
    long other = TrainingFixtures.experiment(channel, "errors-other");
    List<Long> queued = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      queued.add(training.startRun(small(experiment, Strategy.TRANSFER_LEARNING).build()).getId());
    }
    long elsewhere = training.startRun(small(other, Strategy.TRANSFER_LEARNING).build()).getId();
    for (long id : queued) {
      Run cancelled = training.cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
      assertEquals(RunStatus.CANCELLED, cancelled.getStatus());
      assertStatus(
          Status.Code.FAILED_PRECONDITION,
          "no checkpoint",
          () -> training.resumeRun(ResumeRunRequest.newBuilder().setRunId(id).build()));
    }
    training.cancelRun(CancelRunRequest.newBuilder().setRunId(elsewhere).build());

    ListRunsResponse first =
        training.listRuns(
            ListRunsRequest.newBuilder()
                .setExperimentId(experiment)
                .setStatus(RunStatus.CANCELLED)
                .setPageSize(2)
                .build());
    assertEquals(List.of(queued.get(2), queued.get(1)), ids(first));
    assertTrue(!first.getNextPageToken().isEmpty());
    ListRunsResponse second =
        training.listRuns(
            ListRunsRequest.newBuilder()
                .setExperimentId(experiment)
                .setStatus(RunStatus.CANCELLED)
                .setPageSize(2)
                .setPageToken(first.getNextPageToken())
                .build());
    assertEquals(List.of(queued.get(0)), ids(second));
    assertEquals("", second.getNextPageToken());

    ListRunsResponse running =
        training.listRuns(
            ListRunsRequest.newBuilder()
                .setExperimentId(experiment)
                .setStatus(RunStatus.RUNNING)
                .build());
    ListRunsResponse all =
        training.listRuns(ListRunsRequest.newBuilder().setExperimentId(experiment).build());
    assertTrue(ids(all).containsAll(queued));
    assertTrue(ids(all).contains(blocker.getId()));
    assertTrue(!ids(all).contains(elsewhere), "another experiment's run is filtered out");
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "page_size",
        () -> training.listRuns(ListRunsRequest.newBuilder().setPageSize(1001).build()));

    training.cancelRun(CancelRunRequest.newBuilder().setRunId(blocker.getId()).build());
    Run stopped = awaitEnd(channel, blocker.getId(), Duration.ofMinutes(1));
    assertEquals(RunStatus.CANCELLED, stopped.getStatus(), stopped.getError());
    // Listed as RUNNING while it trained (it may still have been QUEUED, never anything else).
    assertTrue(
        ids(running).isEmpty() || ids(running).equals(List.of(blocker.getId())),
        ids(running).toString());
  }

  private static List<Long> ids(ListRunsResponse page) {
    return page.getRunsList().stream().map(Run::getId).toList();
  }

  private record Case(String field, UnaryOperator<StartRunRequest.Builder> change) {}

  private static Case hyper(String field, UnaryOperator<HyperParameters.Builder> change) {
    return new Case(
        field,
        r ->
            r.setHyperParameters(
                change.apply(HyperParameters.newBuilder().setEpochs(2).setBatchSize(16))));
  }
}
