package dev.graft.comparison;

import dev.graft.training.Strategy;
import java.time.Instant;
import java.util.List;

/**
 * A comparison with its measured table.
 *
 * @param status RUNNING, SUCCEEDED, PARTIAL or CANCELLED
 */
public record ComparisonView(
    long id,
    long experimentId,
    String name,
    String baseModel,
    String dataset,
    String status,
    int runsDone,
    int runsTotal,
    List<Cell> cells,
    List<Verdict> verdicts,
    String recommendation,
    Instant createdAt,
    String splitHash) {

  /** One strategy at one training-set size, averaged over the succeeded repeats. */
  public record Cell(
      Strategy strategy,
      int trainingExamples,
      List<Long> runIds,
      int runsSucceeded,
      double testAccuracy,
      double testMacroF1,
      double testAccuracyStd,
      double trainingSeconds,
      double examplesPerSecond,
      long trainableParameters,
      long peakMemoryBytes) {}

  /** The winner at one size; {@code winner} null until a run succeeded. */
  public record Verdict(
      int trainingExamples,
      Strategy winner,
      double winnerTestAccuracy,
      Strategy runnerUp,
      double margin,
      double noise,
      boolean significant) {}
}
