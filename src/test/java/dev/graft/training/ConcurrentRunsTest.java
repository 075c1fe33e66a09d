package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.HeadSpec;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * With {@code max-concurrent-cpu-runs=2}, two runs of one seed training at the same time (dropout
 * in the head, so randomness is drawn while both train) record the same metrics: each draws from
 * its own seeded generator, not from the engine's process-wide one.
 */
@QuarkusTest
@TestProfile(ConcurrentRunsTest.TwoCpuRuns.class)
class ConcurrentRunsTest extends GraftTest {

  /** Two runs train at once. */
  public static class TwoCpuRuns implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of("graft.training.max-concurrent-cpu-runs", "2");
    }
  }

  @Test
  void twoRunsOfOneSeedTrainingAtOnceRecordTheSameMetrics() throws Exception {
    TrainingFixtures.baseModel(channel);
    TrainingFixtures.targetData(channel);
    long experiment = TrainingFixtures.experiment(channel, "concurrent");
    var training = TrainingServiceGrpc.newBlockingStub(channel);
    var request =
        TrainingFixtures.small(experiment, Strategy.FINE_TUNING)
            .setHead(HeadSpec.newBuilder().addHiddenSizes(16).setDropout(0.5f))
            .build();
    long a = training.startRun(request).getId();
    long b = training.startRun(request).getId();
    Run ra = TrainingFixtures.awaitEnd(channel, a, Duration.ofMinutes(4));
    Run rb = TrainingFixtures.awaitEnd(channel, b, Duration.ofMinutes(4));
    assertEquals(RunStatus.SUCCEEDED, ra.getStatus(), ra.getError());
    assertEquals(RunStatus.SUCCEEDED, rb.getStatus(), rb.getError());
    // They did train at the same time.
    assertTrue(
        rb.getStartTime().getSeconds() * 1_000_000_000L + rb.getStartTime().getNanos()
            < ra.getEndTime().getSeconds() * 1_000_000_000L + ra.getEndTime().getNanos(),
        "run " + b + " started after run " + a + " ended");
    assertEquals(TrainingFixtures.untimedMetrics(ra), TrainingFixtures.untimedMetrics(rb));
    assertEquals(ra.getTestMetricsMap(), rb.getTestMetricsMap());
  }
}
