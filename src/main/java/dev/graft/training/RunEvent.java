package dev.graft.training;

import dev.graft.experiments.RunStatus;
import java.time.Instant;
import java.util.Map;

/** Something that happened in a run, as WatchRun streams it. */
public sealed interface RunEvent {

  long runId();

  /** 1, 2, 3... within the run; a replayed history keeps its numbers. */
  long sequence();

  Instant time();

  /** The status changed; {@code message} says why a run failed or was cancelled. */
  record StatusChanged(long runId, long sequence, Instant time, RunStatus status, String message)
      implements RunEvent {}

  /** Progress within an epoch. */
  record Progress(
      long runId,
      long sequence,
      Instant time,
      int epoch,
      int epochs,
      int batchesDone,
      int batchesTotal,
      double examplesPerSecond,
      double etaSeconds,
      double trainLoss)
      implements RunEvent {}

  /** An epoch ended with these metrics. */
  record EpochEnded(long runId, long sequence, Instant time, int epoch, Map<String, Double> values)
      implements RunEvent {}

  /** The trained model was exported and checked; {@code modelVersion} empty if the gate failed. */
  record Exported(
      long runId,
      long sequence,
      Instant time,
      String modelVersion,
      String sha256,
      double parityMaxAbsDiff,
      boolean parityPassed)
      implements RunEvent {}

  /** The run's plan was fixed: budget, learning rate, schedule, early stopping, head fit. */
  record PlanChosen(long runId, long sequence, Instant time, TrainingPlan plan)
      implements RunEvent {}

  /** A phase began, e.g. "linear-probe" then "fine-tune" (LP-FT); {@code detail} says how. */
  record PhaseStarted(long runId, long sequence, Instant time, String phase, String detail)
      implements RunEvent {}
}
