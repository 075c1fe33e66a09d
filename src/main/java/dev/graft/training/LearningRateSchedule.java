package dev.graft.training;

/**
 * The learning-rate factor at each point of a run: linear warm-up over the first epochs, then
 * constant, step, cosine or linear decay. Computed from the epoch and the fraction of it done, so
 * that a resumed run follows exactly the same curve.
 */
record LearningRateSchedule(
    String kind, int epochs, int warmupEpochs, int stepEpochs, double stepGamma) {

  static LearningRateSchedule of(RunSpec.Hyper h) {
    return new LearningRateSchedule(
        h.schedule(), h.epochs(), h.warmupEpochs(), h.stepEpochs(), h.stepGamma());
  }

  /**
   * @param epoch 0-based epoch
   * @param fraction how much of the epoch is done, in [0, 1)
   * @return the factor to multiply the base learning rate with
   */
  double factor(int epoch, double fraction) {
    double t = epoch + fraction;
    if ("LINEAR".equals(kind)) {
      // BERT's schedule: warm-up from 0 over warmupEpochs (or the first 10 % of the run), then
      // linear decay to 0 at the run's end.
      double warm = warmupEpochs > 0 ? warmupEpochs : 0.1 * epochs;
      if (t < warm) {
        return (t + 1e-3) / warm;
      }
      return Math.max(0, (epochs - t) / Math.max(epochs - warm, 1e-9));
    }
    if (t < warmupEpochs) {
      return (t + 1e-3) / warmupEpochs;
    }
    switch (kind) {
      case "STEP":
        return Math.pow(stepGamma, Math.floor((t - warmupEpochs) / stepEpochs));
      case "COSINE":
        double span = Math.max(epochs - warmupEpochs, 1e-9);
        return 0.5 * (1 + Math.cos(Math.PI * Math.min((t - warmupEpochs) / span, 1.0)));
      default:
        return 1.0;
    }
  }
}
