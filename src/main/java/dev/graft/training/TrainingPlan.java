package dev.graft.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;

/**
 * What a run trains for and why, fixed when it starts: the budget, the learning rate and where it
 * came from, the schedule, early stopping, how the head is fitted and the phases. With {@code
 * epochs: 0} (the default) Graft chooses these from the data ({@link Budget}); explicit settings
 * are taken as given. Stored with the run, shown by GetRun and streamed by WatchRun.
 *
 * @param epochs epochs of gradient training planned (0 when a solver fits the head alone)
 * @param stepsPerEpoch optimizer steps per epoch
 * @param maxSteps optimizer steps planned in all (before early stopping)
 * @param trainExamples training examples
 * @param learningRate the head's learning rate (0 when no gradient training)
 * @param learningRateSource "given", "default" or "range test: ..." with its numbers
 * @param schedule CONSTANT, STEP or COSINE
 * @param warmupEpochs epochs of linear warm-up
 * @param headEpochs GRADUAL without a linear probe: head-only epochs before unfreezing
 * @param earlyStopping whether early stopping is on
 * @param patience epochs without improvement before stopping
 * @param headFit "L-BFGS" (converged multinomial logistic regression) or "gradient"
 * @param l2 L2 strength the solver picked on the validation split (0 without the solver)
 * @param l2Search every L2 strength tried with its validation result
 * @param phases the phases in order, e.g. ["linear-probe", "fine-tune"]
 * @param reason the rule that chose the budget, in words
 * @param featureCache how the frozen backbone's feature cache was computed (null without a cache)
 */
public record TrainingPlan(
    int epochs,
    int stepsPerEpoch,
    long maxSteps,
    int trainExamples,
    double learningRate,
    String learningRateSource,
    String schedule,
    int warmupEpochs,
    int headEpochs,
    boolean earlyStopping,
    int patience,
    String headFit,
    double l2,
    List<L2Point> l2Search,
    List<String> phases,
    String reason,
    FeatureCache featureCache) {

  // Lenient like the rest of the stored summary: fields added later do not break older readers.
  private static final ObjectMapper JSON =
      new ObjectMapper()
          .configure(
              com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES,
              false);

  /** One L2 strength the solver tried, measured on the validation split. */
  public record L2Point(double l2, double valAccuracy, double valLoss, int iterations) {}

  /**
   * How the feature cache was computed: by ONNX Runtime on the cut backbone, checked against {@code
   * OnnxBlock} on a small batch, or by {@code OnnxBlock} alone.
   *
   * @param engine "ort" (ONNX Runtime) or "djl" (OnnxBlock on DJL's engine): the one that computed
   *     every cached feature
   * @param provider where it ran: CPU or CUDA for ort, the DJL device for djl
   * @param requested the configured {@code graft.training.feature-engine}
   * @param parityExamples examples on which ORT and OnnxBlock were compared (0: not compared)
   * @param parityMaxAbsDiff largest |ort - djl| over those examples' features
   * @param parityTolerance the accepted maximum (the training parity tolerance times the features'
   *     scale, at least 1)
   * @param fallback why OnnxBlock computed the cache although ort was requested ("" when it did
   *     not)
   * @param examples examples whose features were cached
   * @param seconds wall time of the whole cache, parity check included
   */
  public record FeatureCache(
      String engine,
      String provider,
      String requested,
      int parityExamples,
      double parityMaxAbsDiff,
      double parityTolerance,
      String fallback,
      int examples,
      double seconds) {

    public FeatureCache {
      fallback = fallback == null ? "" : fallback;
    }

    /** Cached examples per second. */
    public double examplesPerSecond() {
      return seconds > 0 ? examples / seconds : 0;
    }
  }

  public TrainingPlan {
    l2Search = l2Search == null ? List.of() : List.copyOf(l2Search);
    phases = phases == null ? List.of() : List.copyOf(phases);
  }

  /** A plan without a feature cache. */
  public TrainingPlan(
      int epochs,
      int stepsPerEpoch,
      long maxSteps,
      int trainExamples,
      double learningRate,
      String learningRateSource,
      String schedule,
      int warmupEpochs,
      int headEpochs,
      boolean earlyStopping,
      int patience,
      String headFit,
      double l2,
      List<L2Point> l2Search,
      List<String> phases,
      String reason) {
    this(
        epochs,
        stepsPerEpoch,
        maxSteps,
        trainExamples,
        learningRate,
        learningRateSource,
        schedule,
        warmupEpochs,
        headEpochs,
        earlyStopping,
        patience,
        headFit,
        l2,
        l2Search,
        phases,
        reason,
        null);
  }

  /** This plan with how its feature cache was computed. */
  public TrainingPlan withFeatureCache(FeatureCache cache) {
    return new TrainingPlan(
        epochs,
        stepsPerEpoch,
        maxSteps,
        trainExamples,
        learningRate,
        learningRateSource,
        schedule,
        warmupEpochs,
        headEpochs,
        earlyStopping,
        patience,
        headFit,
        l2,
        l2Search,
        phases,
        reason,
        cache);
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> toMap() {
    return JSON.convertValue(this, Map.class);
  }

  static TrainingPlan fromMap(Object stored) {
    return stored instanceof Map<?, ?> m ? JSON.convertValue(m, TrainingPlan.class) : null;
  }
}
