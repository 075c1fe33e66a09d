package dev.graft.serving;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Cumulative statistics of one model version (what Triton's ModelStatistics reports) and its
 * Prometheus meters: {@code graft_serving_requests_total}, {@code graft_serving_failures_total},
 * {@code graft_serving_batch_size}, {@code graft_serving_queue_seconds} and {@code
 * graft_serving_compute_seconds}, tagged with model and version. It outlives unloads of the model.
 */
public final class ModelStats implements BatchListener {

  /** A count and a total duration. */
  public record Duration2(long count, long nanos) {}

  /** Executions of one batch size. */
  public record BatchSizeStats(
      int batchSize, long count, long inputNanos, long inferNanos, long outputNanos) {}

  /** A consistent-enough copy for reporting. */
  public record Snapshot(
      String modelName,
      int version,
      long lastInferenceMillis,
      long inferenceCount,
      long executionCount,
      Duration2 success,
      Duration2 fail,
      Duration2 queue,
      Duration2 computeInput,
      Duration2 computeInfer,
      Duration2 computeOutput,
      Map<Integer, BatchSizeStats> batches) {}

  private static final class Adders {
    final LongAdder count = new LongAdder();
    final LongAdder nanos = new LongAdder();

    void add(long n, long ns) {
      count.add(n);
      nanos.add(ns);
    }

    Duration2 get() {
      return new Duration2(count.sum(), nanos.sum());
    }
  }

  private static final class BatchAdders {
    final LongAdder count = new LongAdder();
    final LongAdder input = new LongAdder();
    final LongAdder infer = new LongAdder();
    final LongAdder output = new LongAdder();
  }

  private final String modelName;
  private final int version;
  private final AtomicLong lastInference = new AtomicLong();
  private final LongAdder inferences = new LongAdder();
  private final LongAdder executions = new LongAdder();
  private final Adders success = new Adders();
  private final Adders fail = new Adders();
  private final Adders queue = new Adders();
  private final Adders computeInput = new Adders();
  private final Adders computeInfer = new Adders();
  private final Adders computeOutput = new Adders();
  private final Map<Integer, BatchAdders> batches = new ConcurrentHashMap<>();

  private final Counter requests;
  private final Counter failures;
  private final DistributionSummary batchSize;
  private final Timer queueTimer;
  private final Timer computeTimer;

  public ModelStats(String modelName, int version, MeterRegistry meters) {
    this.modelName = modelName;
    this.version = version;
    String v = Integer.toString(version);
    requests =
        Counter.builder("graft.serving.requests")
            .description("Inference requests received")
            .tags("model", modelName, "version", v)
            .register(meters);
    failures =
        Counter.builder("graft.serving.failures")
            .description("Inference requests that failed")
            .tags("model", modelName, "version", v)
            .register(meters);
    batchSize =
        DistributionSummary.builder("graft.serving.batch.size")
            .description("Examples per ONNX Runtime run")
            .tags("model", modelName, "version", v)
            .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256)
            .register(meters);
    queueTimer =
        Timer.builder("graft.serving.queue")
            .description("Time a request waited for its batch")
            .tags("model", modelName, "version", v)
            .serviceLevelObjectives(
                Duration.ofNanos(100_000),
                Duration.ofMillis(1),
                Duration.ofMillis(5),
                Duration.ofMillis(20),
                Duration.ofMillis(100))
            .register(meters);
    computeTimer =
        Timer.builder("graft.serving.compute")
            .description("Time of one ONNX Runtime run (input, inference, output)")
            .tags("model", modelName, "version", v)
            .serviceLevelObjectives(
                Duration.ofNanos(100_000),
                Duration.ofMillis(1),
                Duration.ofMillis(5),
                Duration.ofMillis(20),
                Duration.ofMillis(100))
            .register(meters);
  }

  /** A request with {@code examples} examples succeeded after {@code nanos} end to end. */
  public void requestSucceeded(int examples, long nanos) {
    requests.increment();
    inferences.add(examples);
    success.add(1, nanos);
    lastInference.set(System.currentTimeMillis());
  }

  /** A request failed, before or after reaching the model. */
  public void requestFailed(long nanos) {
    requests.increment();
    failures.increment();
    fail.add(1, nanos);
    lastInference.set(System.currentTimeMillis());
  }

  @Override
  public void onBatch(
      int rows, long[] queueNanos, long inputNanos, long inferNanos, long outputNanos) {
    executions.increment();
    batchSize.record(rows);
    computeTimer.record(inputNanos + inferNanos + outputNanos, TimeUnit.NANOSECONDS);
    for (long q : queueNanos) {
      queue.add(1, q);
      queueTimer.record(q, TimeUnit.NANOSECONDS);
      // Triton counts each request with the compute time of the batch it ran in.
      computeInput.add(1, inputNanos);
      computeInfer.add(1, inferNanos);
      computeOutput.add(1, outputNanos);
    }
    BatchAdders b = batches.computeIfAbsent(rows, k -> new BatchAdders());
    b.count.increment();
    b.input.add(inputNanos);
    b.infer.add(inferNanos);
    b.output.add(outputNanos);
  }

  @Override
  public void onBatchFailure(int requests, long nanos) {
    // The requests themselves are counted as failed by their callers.
  }

  public Snapshot snapshot() {
    Map<Integer, BatchSizeStats> sizes = new TreeMap<>();
    batches.forEach(
        (size, b) ->
            sizes.put(
                size,
                new BatchSizeStats(
                    size, b.count.sum(), b.input.sum(), b.infer.sum(), b.output.sum())));
    return new Snapshot(
        modelName,
        version,
        lastInference.get(),
        inferences.sum(),
        executions.sum(),
        success.get(),
        fail.get(),
        queue.get(),
        computeInput.get(),
        computeInfer.get(),
        computeOutput.get(),
        sizes);
  }
}
