package dev.graft.training;

import static dev.graft.training.TrainingFixtures.awaitEnd;
import static dev.graft.training.TrainingFixtures.small;
import static dev.graft.training.TrainingFixtures.untimedMetrics;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.CancelRunRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** CancelRun stops a run within a batch; equal seeds give equal runs on the CPU. */
@QuarkusTest
class CancelAndDeterminismTest extends GraftTest {

  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;

  @BeforeEach
  void setUp() throws InterruptedException {
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.targetData(channel);
    TrainingFixtures.baseModel(channel);
    experiment = TrainingFixtures.experiment(channel, "cancel");
  }

  @Test
  void cancelStopsARunningRunWithinABatch() {
    TrainingFixtures.largeData(channel);
    int planned = 20;
    Run started =
        training.startRun(
            small(experiment, Strategy.FINE_TUNING)
                .setDataset(TrainingFixtures.LARGE)
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(planned).setBatchSize(4))
                .build());
    Iterator<RunEvent> events =
        training
            .withDeadlineAfter(2, TimeUnit.MINUTES)
            .watchRun(WatchRunRequest.newBuilder().setRunId(started.getId()).build());
    // Wait until it trains: a first progress event.
    RunEvent e;
    do {
      e = events.next();
    } while (!e.hasProgress());
    int batchesTotal = e.getProgress().getBatchesTotal();
    long cancelledAt = System.nanoTime();
    Run answer =
        training.cancelRun(CancelRunRequest.newBuilder().setRunId(started.getId()).build());
    assertTrue(
        answer.getStatus() == RunStatus.RUNNING || answer.getStatus() == RunStatus.CANCELLED,
        answer.getStatus().toString());
    RunEvent last = e;
    while (events.hasNext()) {
      last = events.next();
    }
    double seconds = (System.nanoTime() - cancelledAt) / 1e9;
    assertEquals(RunStatus.CANCELLED, last.getStatus().getStatus(), last.toString());
    System.out.printf(
        "CancelRun: run %d ended CANCELLED %.3f s after CancelRun (%d batches of 4 per epoch)%n",
        started.getId(), seconds, batchesTotal);
    // One batch of 4 takes milliseconds; a second is generous on a loaded machine, an epoch
    // would take seconds.
    assertTrue(seconds < 2, "cancel took " + seconds + " s");
    Run run =
        training.getRun(
            dev.graft.api.v1.GetRunRequest.newBuilder().setRunId(started.getId()).build());
    assertEquals(RunStatus.CANCELLED, run.getStatus());
    int epochs = run.getMetricsList().stream().mapToInt(m -> m.getEpoch()).max().orElse(0);
    assertTrue(epochs < planned, epochs + " epochs of " + planned);
    assertEquals("", run.getModelVersion(), "a cancelled run registers no model");
  }

  @Test
  void sameSeedSameMetricsOtherSeedOtherSplit() throws InterruptedException {
    Run a = finished(small(experiment, Strategy.FINE_TUNING).setSeed(5).build());
    Run b = finished(small(experiment, Strategy.FINE_TUNING).setSeed(5).build());
    assertEquals(a.getSplitHash(), b.getSplitHash());
    assertFalse(untimedMetrics(a).isEmpty());
    assertEquals(untimedMetrics(a), untimedMetrics(b), "per-epoch metrics of equal runs");
    assertEquals(a.getTestMetricsMap(), b.getTestMetricsMap());
    assertEquals(a.getConfusionMatrixList(), b.getConfusionMatrixList());

    Run tlA = finished(small(experiment, Strategy.TRANSFER_LEARNING).setSeed(5).build());
    Run tlB = finished(small(experiment, Strategy.TRANSFER_LEARNING).setSeed(5).build());
    assertTrue(tlA.getFeatureCache());
    assertEquals(untimedMetrics(tlA), untimedMetrics(tlB), "per-epoch metrics with the cache");

    Run other =
        finished(
            small(experiment, Strategy.TRANSFER_LEARNING)
                .setSeed(6)
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(1))
                .build());
    assertNotEquals(a.getSplitHash(), other.getSplitHash(), "another seed, another split");
  }

  private Run finished(dev.graft.api.v1.StartRunRequest request) throws InterruptedException {
    Run done = awaitEnd(channel, training.startRun(request).getId(), Duration.ofMinutes(2));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    return done;
  }
}
