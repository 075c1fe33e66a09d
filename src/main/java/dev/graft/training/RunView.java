package dev.graft.training;

import dev.graft.experiments.RunStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A run as callers see it: configuration, status, metrics and results; {@code plan} is null until
 * the run started. {@code owner} is the trainer holding the run's lease, or the last one once it
 * ended ("" while queued), {@code attempts} how often a trainer claimed it, {@code leaseExpiresAt}
 * null without a lease.
 */
public record RunView(
    long id,
    long experimentId,
    String name,
    Strategy strategy,
    RunStatus status,
    String baseModel,
    String dataset,
    RunSpec spec,
    String device,
    long seed,
    String splitHash,
    long trainableParameters,
    long totalParameters,
    boolean featureCache,
    List<EpochValue> metrics,
    Map<String, Double> testMetrics,
    List<Long> confusionMatrix,
    List<String> labels,
    String modelVersion,
    String onnxSha256,
    double parityMaxAbsDiff,
    String error,
    Map<String, String> versions,
    long peakMemoryBytes,
    Instant createdAt,
    Instant startedAt,
    Instant finishedAt,
    long parentRunId,
    TrainingPlan plan,
    String owner,
    int attempts,
    int maxAttempts,
    Instant leaseExpiresAt) {

  /** One metric value at one epoch. */
  public record EpochValue(String key, int epoch, double value) {}
}
