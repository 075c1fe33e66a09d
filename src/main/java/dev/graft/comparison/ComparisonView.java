package dev.graft.comparison;

import dev.graft.training.LayerProbes;
import dev.graft.training.Strategy;
import java.time.Instant;
import java.util.List;

/**
 * A comparison with its measured table.
 *
 * @param status RUNNING (runs, or the requested probe sweep, not ended), SUCCEEDED, PARTIAL or
 *     CANCELLED
 * @param probeStatus "" (no probe sweep asked for), RUNNING, SUCCEEDED or FAILED
 * @param probeSweep the linear probes at every cut point, once computed (else null)
 * @param probeError why the probe sweep failed (else "")
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
    String splitHash,
    String probeStatus,
    ProbeSweep probeSweep,
    String probeError) {

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

  /**
   * The linear-probe sweep (ProbeLayers) on the comparison's split, stored with it.
   *
   * @param probes one per cut point, in graph order
   * @param bestCutPoint the probe with the best validation accuracy
   * @param featureSeconds the one feature pass over the examples
   * @param totalSeconds the whole sweep, solvers included
   */
  public record ProbeSweep(
      List<Probe> probes,
      String bestCutPoint,
      double featureSeconds,
      double totalSeconds,
      int trainExamples,
      int validationExamples,
      String splitHash,
      String provider) {

    /** The sweep as {@link LayerProbes} measured it. */
    public static ProbeSweep of(LayerProbes.Result r, double totalSeconds) {
      return new ProbeSweep(
          r.probes().stream()
              .map(
                  p ->
                      new Probe(
                          p.cut().name(),
                          p.cut().tensor(),
                          p.cut().featureSize(),
                          p.cut().shape(),
                          p.valAccuracy(),
                          p.valLoss(),
                          p.l2(),
                          p.seconds(),
                          p.cut().last()))
              .toList(),
          r.best(),
          r.featureSeconds(),
          totalSeconds,
          r.trainExamples(),
          r.validationExamples(),
          r.splitHash(),
          r.provider());
    }
  }

  /**
   * The probe at one cut point; {@code featureTensor} marks the base model's own feature tensor.
   */
  public record Probe(
      String name,
      String tensor,
      int featureSize,
      List<Long> shape,
      double valAccuracy,
      double valLoss,
      double l2,
      double trainSeconds,
      boolean featureTensor) {}
}
