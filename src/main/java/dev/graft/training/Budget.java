package dev.graft.training;

/**
 * The automatic budget of a run with {@code epochs: 0}: enough optimizer steps for the data size,
 * with early stopping to end it once the validation loss stops improving.
 *
 * <p>epochs = clamp(ceil(minSteps / stepsPerEpoch), minEpochs, maxEpochs), stepsPerEpoch =
 * ceil(examples / batch). On images minSteps = 1,000, epochs 10..200: 50 examples at batch 32 get
 * 200 epochs (400 steps), 200 get 143 (1,001 steps), 1,000 get 32 (1,024 steps), 50,000 get 10. On
 * cached features (a head alone, where a step costs microseconds) minSteps = 3,000, epochs
 * 20..1,000. A fixed epoch count instead gives 50 examples ~30 steps, far from converged. Patience
 * = max(5, ceil(epochs / 10)) epochs; warm-up = max(1, round(epochs / 20)) epochs.
 */
final class Budget {

  static final int IMAGE_MIN_STEPS = 1000;
  static final int IMAGE_MIN_EPOCHS = 10;
  static final int IMAGE_MAX_EPOCHS = 200;
  static final int CACHED_MIN_STEPS = 3000;
  static final int CACHED_MIN_EPOCHS = 20;
  static final int CACHED_MAX_EPOCHS = 1000;

  /**
   * Fine-tuning a pre-trained text encoder converges in a few epochs (BERT: 2-4); a CPU step at
   * length 128 costs seconds, so the budget is counted in examples seen, not steps.
   */
  static final int TEXT_MIN_EXAMPLES = 2000;

  static final int TEXT_MIN_EPOCHS = 3;
  static final int TEXT_MAX_EPOCHS = 10;

  /** The encoder's learning rate when a text run gives none: BERT fine-tuning's 5e-5. */
  static final double TEXT_ENCODER_RATE = 5e-5;

  private Budget() {}

  /** Epochs for a text run that trains through the encoder (not on cached features). */
  static int textEpochs(int examples) {
    int wanted = (TEXT_MIN_EXAMPLES + Math.max(examples, 1) - 1) / Math.max(examples, 1);
    return Math.max(TEXT_MIN_EPOCHS, Math.min(TEXT_MAX_EPOCHS, wanted));
  }

  /** The text rule in words. */
  static String textReason(int examples, int batchSize, RunSpec.EarlyStop early) {
    int epochs = textEpochs(examples);
    return String.format(
        java.util.Locale.ROOT,
        "epochs 0 on a text encoder: %d training examples at batch %d; %d epochs ="
            + " clamp(ceil(%d / %d), %d, %d) (fine-tuning a pre-trained encoder converges in a"
            + " few epochs), %s",
        examples,
        batchSize,
        epochs,
        TEXT_MIN_EXAMPLES,
        examples,
        TEXT_MIN_EPOCHS,
        TEXT_MAX_EPOCHS,
        stopping(early, epochs));
  }

  static int stepsPerEpoch(int examples, int batchSize) {
    return Math.max(1, (examples + batchSize - 1) / batchSize);
  }

  /** Epochs for {@code examples} training examples at {@code batchSize}. */
  static int epochs(int examples, int batchSize, boolean cachedFeatures) {
    int steps = stepsPerEpoch(examples, batchSize);
    int minSteps = cachedFeatures ? CACHED_MIN_STEPS : IMAGE_MIN_STEPS;
    int min = cachedFeatures ? CACHED_MIN_EPOCHS : IMAGE_MIN_EPOCHS;
    int max = cachedFeatures ? CACHED_MAX_EPOCHS : IMAGE_MAX_EPOCHS;
    int wanted = (minSteps + steps - 1) / steps;
    return Math.max(min, Math.min(max, wanted));
  }

  /** Early stopping in words: the metric, its tie-break, the patience and what is restored. */
  static String stopping(RunSpec.EarlyStop early, int epochs) {
    if (!early.enabled()) {
      return "early stopping off";
    }
    int patience = early.patience() == 0 ? patience(epochs) : early.patience();
    return "early stopping on "
        + early.metric()
        + (early.lowerIsBetter() ? "" : " (ties: lower val_loss)")
        + " (patience "
        + patience
        + ")"
        + (early.restoreBest() ? " with the best epoch restored" : "");
  }

  static int patience(int epochs) {
    return Math.max(5, (epochs + 9) / 10);
  }

  static int warmupEpochs(int epochs) {
    return epochs < 2 ? 0 : Math.max(1, (int) Math.round(epochs / 20.0));
  }

  /** The rule in words, with its numbers, for the run's plan. */
  static String reason(
      int examples, int batchSize, boolean cachedFeatures, RunSpec.EarlyStop early) {
    int steps = stepsPerEpoch(examples, batchSize);
    int epochs = epochs(examples, batchSize, cachedFeatures);
    return String.format(
        java.util.Locale.ROOT,
        "epochs 0: %d training examples at batch %d are %d steps per epoch; %d epochs ="
            + " clamp(ceil(%d / %d), %d, %d) = %d steps at most, %s",
        examples,
        batchSize,
        steps,
        epochs,
        cachedFeatures ? CACHED_MIN_STEPS : IMAGE_MIN_STEPS,
        steps,
        cachedFeatures ? CACHED_MIN_EPOCHS : IMAGE_MIN_EPOCHS,
        cachedFeatures ? CACHED_MAX_EPOCHS : IMAGE_MAX_EPOCHS,
        (long) epochs * steps,
        stopping(early, epochs));
  }
}
