package dev.graft.training;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** How Graft schedules and checks training runs. */
@ConfigMapping(prefix = "graft.training")
public interface TrainingConfig {

  /** Runs that train at the same time on the CPU; further runs wait in the queue. */
  @WithDefault("1")
  int maxConcurrentCpuRuns();

  /** Runs that train at the same time on each GPU. */
  @WithDefault("1")
  int maxConcurrentGpuRuns();

  /**
   * How long after a run ended its live event stream is kept in memory; WatchRun then rebuilds the
   * history from the store.
   */
  @WithDefault("10m")
  java.time.Duration eventRetention();

  /** A progress event is sent at most this often (milliseconds) while an epoch runs. */
  @WithDefault("500")
  long progressIntervalMs();

  /** Largest max-abs difference between DJL and ONNX Runtime the export accepts. */
  @WithDefault("1e-4")
  double parityTolerance();

  /** Examples in the batch that the parity gate compares. */
  @WithDefault("64")
  int parityBatchSize();

  /**
   * Which engine computes feature caches (TRANSFER_LEARNING, GRADUAL's linear probe): {@code ort}
   * runs the cut backbone in ONNX Runtime, checked against OnnxBlock on a small batch with
   * OnnxBlock as the fallback; {@code djl} runs OnnxBlock alone.
   */
  @WithDefault("ort")
  FeatureEngine featureEngine();

  /**
   * How long a trainer's claim on a run holds without a heartbeat; a run whose lease expired is
   * INTERRUPTED by any trainer and resumed per {@link #autoResumeAttempts()}.
   */
  @WithDefault("30s")
  java.time.Duration leaseDuration();

  /** How often the owner renews the leases of the runs it trains and reads cancel requests. */
  @WithDefault("5s")
  java.time.Duration heartbeatInterval();

  /**
   * How often a trainer looks for queued runs and expired leases (it wakes at once for runs queued
   * in its own process).
   */
  @WithDefault("2s")
  java.time.Duration pollInterval();

  /**
   * The most claims a run gets, the first included, when it is resumed automatically after its
   * trainer stopped (a lost lease, SIGTERM); {@code StartRunRequest.max_attempts} overrides it per
   * run. 1 turns automatic resume off.
   */
  @WithDefault("3")
  int autoResumeAttempts();

  /**
   * How long SIGTERM waits for running jobs to stop at their next batch before it releases them.
   */
  @WithDefault("20s")
  java.time.Duration shutdownTimeout();
}
