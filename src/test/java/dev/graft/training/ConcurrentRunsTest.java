package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.experiments.RunStatus;
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Two runs of one seed training at the same time in one process (as with {@code
 * max-concurrent-cpu-runs=2}; driven here on two threads, since a test profile would restart the
 * application where libtorch cannot load again) both succeed and record the same metrics, dropout
 * included: each draws from its own seeded generator, and they take turns for DJL's one gradient
 * collector.
 */
@QuarkusTest
class ConcurrentRunsTest extends GraftTest {

  @Inject RunStore store;
  @Inject TrainingJob job;

  private long queue(long experiment) {
    RunSpec spec =
        new RunSpec(
                experiment,
                "concurrent",
                TrainingFixtures.BASE,
                "",
                TrainingFixtures.TARGET,
                Strategy.FINE_TUNING,
                0,
                List.of(),
                new RunSpec.Head(List.of(16), "relu", 0.5f),
                new RunSpec.Hyper(
                    "", 0, 0, 0, 0, "CONSTANT", 0, 0, 0, 16, 2, 0, null, false, false, false),
                new RunSpec.Split(0.2, 0.2, 0),
                3,
                "CPU",
                "")
            .withDefaults()
            .validate();
    return store.createQueued(
        spec,
        store.baseModel(TrainingFixtures.BASE).id,
        store.dataset(TrainingFixtures.TARGET).id,
        null,
        job.versions());
  }

  private static Map<Integer, Map<String, Double>> untimed(RunView run) {
    return run.metrics().stream()
        .filter(m -> !m.key().equals("epoch_seconds") && !m.key().equals("examples_per_second"))
        .collect(
            Collectors.groupingBy(
                RunView.EpochValue::epoch,
                java.util.TreeMap::new,
                Collectors.toMap(RunView.EpochValue::key, RunView.EpochValue::value)));
  }

  @Test
  void twoRunsOfOneSeedTrainingAtOnceRecordTheSameMetrics() throws Exception {
    TrainingFixtures.baseModel(channel);
    TrainingFixtures.targetData(channel);
    long experiment = TrainingFixtures.experiment(channel, "concurrent");
    long a = queue(experiment);
    long b = queue(experiment);
    long[][] spans = new long[2][2];
    ExecutorService two = Executors.newFixedThreadPool(2);
    try {
      CompletableFuture<?> ra = train(two, a, spans[0]);
      CompletableFuture<?> rb = train(two, b, spans[1]);
      CompletableFuture.allOf(ra, rb).get(4, TimeUnit.MINUTES);
    } finally {
      two.shutdownNow();
    }
    assertTrue(
        spans[0][0] < spans[1][1] && spans[1][0] < spans[0][1], "the two runs did not overlap");
    RunView va = store.view(a);
    RunView vb = store.view(b);
    assertEquals(RunStatus.SUCCEEDED, va.status(), va.error());
    assertEquals(RunStatus.SUCCEEDED, vb.status(), vb.error());
    assertEquals(2, untimed(va).size());
    assertEquals(untimed(va), untimed(vb));
    assertEquals(va.testMetrics(), vb.testMetrics());
  }

  private CompletableFuture<?> train(ExecutorService pool, long runId, long[] span) {
    return CompletableFuture.runAsync(
        () -> {
          span[0] = System.nanoTime();
          job.run(runId, new CancelToken());
          span[1] = System.nanoTime();
        },
        pool);
  }
}
