package dev.graft.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.core.GraftException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BatcherTest {

  /** Doubles every value; records the batch sizes; the first run waits for the gate. */
  private static final class Doubler implements Batcher.Runner {
    final List<Integer> sizes = new CopyOnWriteArrayList<>();
    final CountDownLatch started = new CountDownLatch(1);
    final CountDownLatch gate;

    Doubler(CountDownLatch gate) {
      this.gate = gate;
    }

    @Override
    public Batcher.RunResult run(float[] input, int rows) throws Exception {
      sizes.add(rows);
      started.countDown();
      gate.await(10, TimeUnit.SECONDS);
      float[] out = new float[input.length];
      for (int i = 0; i < input.length; i++) {
        out[i] = input[i] * 2;
      }
      return new Batcher.RunResult(out, 0, 0, 0);
    }
  }

  private static float[] row(float v) {
    return new float[] {v, v + 0.5f};
  }

  @Test
  void requestsQueuedWhileTheModelIsBusyRunAsOneBatchAndGetTheirOwnRows() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    Doubler runner = new Doubler(gate);
    AtomicBoolean exited = new AtomicBoolean();
    Batcher<float[]> batcher =
        Batcher.floats(
            "t",
            runner,
            new BatchSettings(8, Duration.ZERO, 100),
            BatchListener.NONE,
            () -> exited.set(true));
    CompletableFuture<float[]> first = batcher.submit(row(0), 1);
    assertTrue(runner.started.await(5, TimeUnit.SECONDS));
    List<CompletableFuture<float[]>> rest = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      rest.add(batcher.submit(row(i), 1));
    }
    gate.countDown();
    assertArrayEquals(new float[] {0, 1}, first.get(5, TimeUnit.SECONDS));
    for (int i = 1; i <= 10; i++) {
      assertArrayEquals(new float[] {2 * i, 2 * i + 1}, rest.get(i - 1).get(5, TimeUnit.SECONDS));
    }
    assertEquals(List.of(1, 8, 2), runner.sizes);
    batcher.close();
    assertTrue(batcher.awaitExit(5000));
    assertTrue(exited.get());
  }

  @Test
  void aRequestOfSeveralRowsIsNeverSplitAndKeepsItsRows() throws Exception {
    Doubler runner = new Doubler(new CountDownLatch(0));
    Batcher<float[]> batcher =
        Batcher.floats(
            "t",
            runner,
            new BatchSettings(4, Duration.ofMillis(50), 100),
            BatchListener.NONE,
            () -> {});
    CompletableFuture<float[]> a = batcher.submit(new float[] {1, 1, 2, 2, 3, 3}, 3);
    CompletableFuture<float[]> b = batcher.submit(new float[] {4, 4, 5, 5}, 2);
    assertArrayEquals(new float[] {2, 2, 4, 4, 6, 6}, a.get(5, TimeUnit.SECONDS));
    assertArrayEquals(new float[] {8, 8, 10, 10}, b.get(5, TimeUnit.SECONDS));
    assertEquals(List.of(3, 2), runner.sizes);
    batcher.close();
  }

  @Test
  void maxQueueDelayGathersRequestsThatArriveShortlyAfterTheFirst() throws Exception {
    Doubler runner = new Doubler(new CountDownLatch(0));
    Batcher<float[]> batcher =
        Batcher.floats(
            "t",
            runner,
            new BatchSettings(16, Duration.ofMillis(300), 100),
            BatchListener.NONE,
            () -> {});
    List<CompletableFuture<float[]>> all = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      all.add(batcher.submit(row(i), 1));
      Thread.sleep(20);
    }
    for (CompletableFuture<float[]> f : all) {
      f.get(5, TimeUnit.SECONDS);
    }
    assertEquals(List.of(4), runner.sizes);
    batcher.close();
  }

  @Test
  void batchingOffRunsEveryRequestAlone() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    Doubler runner = new Doubler(gate);
    Batcher<float[]> batcher =
        Batcher.floats(
            "t", runner, new BatchSettings(1, Duration.ZERO, 100), BatchListener.NONE, () -> {});
    List<CompletableFuture<float[]>> all = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      all.add(batcher.submit(row(i), 1));
    }
    gate.countDown();
    for (CompletableFuture<float[]> f : all) {
      f.get(5, TimeUnit.SECONDS);
    }
    assertEquals(List.of(1, 1, 1, 1, 1), runner.sizes);
    batcher.close();
  }

  @Test
  void aFullQueueIsResourceExhaustedAndAClosedBatcherStillAnswersWhatItQueued() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    Doubler runner = new Doubler(gate);
    AtomicBoolean exited = new AtomicBoolean();
    Batcher<float[]> batcher =
        Batcher.floats(
            "m-v1",
            runner,
            new BatchSettings(1, Duration.ZERO, 2),
            BatchListener.NONE,
            () -> exited.set(true));
    CompletableFuture<float[]> running = batcher.submit(row(1), 1);
    assertTrue(runner.started.await(5, TimeUnit.SECONDS));
    CompletableFuture<float[]> q1 = batcher.submit(row(2), 1);
    CompletableFuture<float[]> q2 = batcher.submit(row(3), 1);
    GraftException.ResourceExhausted full =
        assertThrows(GraftException.ResourceExhausted.class, () -> batcher.submit(row(4), 1));
    assertTrue(full.getMessage().contains("m-v1 has 2 requests waiting"), full.getMessage());

    batcher.close();
    assertNull(batcher.submit(row(5), 1));
    assertTrue(!exited.get());
    gate.countDown();
    assertArrayEquals(new float[] {2, 3}, running.get(5, TimeUnit.SECONDS));
    assertArrayEquals(new float[] {4, 5}, q1.get(5, TimeUnit.SECONDS));
    assertArrayEquals(new float[] {6, 7}, q2.get(5, TimeUnit.SECONDS));
    assertTrue(batcher.awaitExit(5000));
    assertTrue(exited.get());
  }

  @Test
  void aFailedRunFailsOnlyItsOwnRequests() throws Exception {
    Batcher.Runner failing =
        (input, rows) -> {
          if (input[0] < 0) {
            throw new IllegalStateException("bad batch");
          }
          return new Batcher.RunResult(input.clone(), 0, 0, 0);
        };
    Batcher<float[]> batcher =
        Batcher.floats(
            "t", failing, new BatchSettings(1, Duration.ZERO, 10), BatchListener.NONE, () -> {});
    CompletableFuture<float[]> bad = batcher.submit(new float[] {-1}, 1);
    CompletableFuture<float[]> good = batcher.submit(new float[] {7}, 1);
    assertThrows(Exception.class, () -> bad.get(5, TimeUnit.SECONDS));
    assertArrayEquals(new float[] {7}, good.get(5, TimeUnit.SECONDS));
    batcher.close();
  }

  @Test
  void runnersComputeBatchesAtOnceAndTheLastToStopReleasesTheModelOnce() throws Exception {
    CountDownLatch bothRunning = new CountDownLatch(2);
    AtomicInteger exits = new AtomicInteger();
    Batcher.Runner runner =
        (input, rows) -> {
          // Each run waits until two runs are in progress: with one runner this never returns
          // early and the test fails on its timeout.
          bothRunning.countDown();
          if (!bothRunning.await(5, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the other runner never ran");
          }
          return new Batcher.RunResult(input.clone(), 0, 0, 0);
        };
    Batcher<float[]> batcher =
        Batcher.floats(
            "t",
            runner,
            new BatchSettings(1, Duration.ZERO, 100, 2),
            BatchListener.NONE,
            exits::incrementAndGet);
    CompletableFuture<float[]> a = batcher.submit(row(1), 1);
    CompletableFuture<float[]> b = batcher.submit(row(2), 1);
    assertArrayEquals(row(1), a.get(10, TimeUnit.SECONDS));
    assertArrayEquals(row(2), b.get(10, TimeUnit.SECONDS));
    batcher.close();
    assertTrue(batcher.awaitExit(5000));
    assertTrue(batcher.exited());
    assertEquals(1, exits.get());
  }
}
