package dev.graft.training;

import dev.graft.core.GraftException;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The full configuration of a run, as requested and completed with defaults. Stored as JSON with
 * the run, so that a resumed run trains exactly as the original would have.
 *
 * @param experimentId experiment the run belongs to
 * @param name run name
 * @param baseModel base model name (empty for {@link Strategy#PRETRAINING}, which names an
 *     architecture instead)
 * @param architecture built-in architecture, for pre-training only
 * @param dataset dataset name
 * @param strategy strategy
 * @param trainLastBlocks fine-tuning: train the last N backbone blocks (0 = all)
 * @param trainPatterns fine-tuning: backbone initializers to train, by prefix or regex
 * @param head the new head
 * @param hyper hyper-parameters
 * @param split dataset split
 * @param seed seed of everything random
 * @param device AUTO, CPU or GPU
 * @param modelName name under which the trained model is registered
 * @param cutPoint where the head is grafted: a {@link dev.graft.model.CutPoints cut point} of the
 *     base model by block or tensor name, stored as its block name; empty for the base model's
 *     feature tensor
 */
public record RunSpec(
    long experimentId,
    String name,
    String baseModel,
    String architecture,
    String dataset,
    Strategy strategy,
    int trainLastBlocks,
    List<String> trainPatterns,
    Head head,
    Hyper hyper,
    Split split,
    long seed,
    String device,
    String modelName,
    String cutPoint) {

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");
  private static final Set<String> ACTIVATIONS = Set.of("relu", "tanh", "sigmoid", "leaky_relu");
  private static final Set<String> DEVICES = Set.of("AUTO", "CPU", "GPU");
  private static final Set<String> STOP_METRICS =
      Set.of("val_loss", "val_accuracy", "val_macro_f1");

  /** A spec that grafts at the base model's feature tensor (no cut point). */
  public RunSpec(
      long experimentId,
      String name,
      String baseModel,
      String architecture,
      String dataset,
      Strategy strategy,
      int trainLastBlocks,
      List<String> trainPatterns,
      Head head,
      Hyper hyper,
      Split split,
      long seed,
      String device,
      String modelName) {
    this(
        experimentId,
        name,
        baseModel,
        architecture,
        dataset,
        strategy,
        trainLastBlocks,
        trainPatterns,
        head,
        hyper,
        split,
        seed,
        device,
        modelName,
        "");
  }

  /** This spec grafting at {@code cut} (a block name; empty for the feature tensor). */
  RunSpec withCutPoint(String cut) {
    return new RunSpec(
        experimentId,
        name,
        baseModel,
        architecture,
        dataset,
        strategy,
        trainLastBlocks,
        trainPatterns,
        head,
        hyper,
        split,
        seed,
        device,
        modelName,
        cut);
  }

  /**
   * The new classification head; {@code normalizeEmbedding}: a text encoder's pooled embedding is
   * L2-normalised before it (sentence-transformers' Normalize), off by default.
   */
  public record Head(
      List<Integer> hiddenSizes, String activation, float dropout, boolean normalizeEmbedding) {
    public Head(List<Integer> hiddenSizes, String activation, float dropout) {
      this(hiddenSizes, activation, dropout, false);
    }
  }

  /** Optimisation settings. */
  public record Hyper(
      String optimizer,
      double learningRate,
      double backboneLrMultiplier,
      double weightDecay,
      double momentum,
      String schedule,
      int warmupEpochs,
      int stepEpochs,
      double stepGamma,
      int batchSize,
      int epochs,
      int headEpochs,
      EarlyStop earlyStopping,
      boolean augmentRandomCrop,
      boolean augmentHorizontalFlip,
      boolean classWeighting,
      int maxSequenceLength) {

    /** The settings without a max sequence length (0: the default for text, unused otherwise). */
    public Hyper(
        String optimizer,
        double learningRate,
        double backboneLrMultiplier,
        double weightDecay,
        double momentum,
        String schedule,
        int warmupEpochs,
        int stepEpochs,
        double stepGamma,
        int batchSize,
        int epochs,
        int headEpochs,
        EarlyStop earlyStopping,
        boolean augmentRandomCrop,
        boolean augmentHorizontalFlip,
        boolean classWeighting) {
      this(
          optimizer,
          learningRate,
          backboneLrMultiplier,
          weightDecay,
          momentum,
          schedule,
          warmupEpochs,
          stepEpochs,
          stepGamma,
          batchSize,
          epochs,
          headEpochs,
          earlyStopping,
          augmentRandomCrop,
          augmentHorizontalFlip,
          classWeighting,
          0);
    }

    /** Whether any augmentation changes the training images. */
    public boolean augments() {
      return augmentRandomCrop || augmentHorizontalFlip;
    }

    /** Whether the budget is Graft's to choose ({@code epochs: 0}, see {@link Budget}). */
    public boolean automatic() {
      return epochs == 0;
    }

    Hyper withLearningRate(double rate) {
      return resolved(epochs, rate, schedule, warmupEpochs, headEpochs, earlyStopping);
    }

    /** These settings with what a {@link TrainingPlan} chose in place of the automatic ones. */
    Hyper resolved(
        int epochs,
        double learningRate,
        String schedule,
        int warmupEpochs,
        int headEpochs,
        EarlyStop earlyStopping) {
      return new Hyper(
          optimizer,
          learningRate,
          backboneLrMultiplier,
          weightDecay,
          momentum,
          schedule,
          warmupEpochs,
          stepEpochs,
          stepGamma,
          batchSize,
          epochs,
          headEpochs,
          earlyStopping,
          augmentRandomCrop,
          augmentHorizontalFlip,
          classWeighting,
          maxSequenceLength);
    }
  }

  /** Early stopping; {@code metric} is val_loss (lower is better) or a higher-is-better one. */
  public record EarlyStop(
      boolean enabled, String metric, int patience, double minDelta, boolean restoreBest) {

    public boolean lowerIsBetter() {
      return "val_loss".equals(metric);
    }
  }

  /** How the dataset is divided; {@code maxTrainExamples} 0 = all. */
  public record Split(double validationFraction, double testFraction, int maxTrainExamples) {}

  /** This spec with the hyper-parameters replaced. */
  RunSpec withHyper(Hyper h) {
    return new RunSpec(
        experimentId,
        name,
        baseModel,
        architecture,
        dataset,
        strategy,
        trainLastBlocks,
        trainPatterns,
        head,
        h,
        split,
        seed,
        device,
        modelName,
        cutPoint);
  }

  /**
   * What the automatic budget stops on: validation accuracy, ties broken by the lower validation
   * loss (torchvision's and timm's practice of keeping the most accurate checkpoint). Validation
   * loss rises from over-confidence while accuracy still improves: on 50-200 MNIST examples
   * val_loss stopped FROM_SCRATCH at 78 of 200 epochs (0.950 of the grid's best) and kept GRADUAL's
   * probe (0.863).
   */
  static final String AUTOMATIC_STOP_METRIC = "val_accuracy";

  /** The learning rate used when none is given and the budget is explicit. */
  static double defaultLearningRate(String optimizer) {
    return "SGD".equals(optimizer) ? 0.01 : 0.001;
  }

  /**
   * This spec with every unset value replaced by the strategy's default. With {@code epochs: 0}
   * (pre-training aside) the budget stays automatic: epochs 0, a learning rate of 0 is left for the
   * range test, early stopping is on ({@value #AUTOMATIC_STOP_METRIC}, restore best) unless the
   * request configures it, and a patience of 0 is chosen with the budget; the run's {@link
   * TrainingPlan} records the choice.
   */
  public RunSpec withDefaults() {
    if (strategy == null) {
      throw new GraftException.InvalidArgument(
          "strategy is required: TRANSFER_LEARNING, FINE_TUNING, GRADUAL or FROM_SCRATCH");
    }
    Hyper h = hyper;
    boolean automatic = h.epochs() == 0 && strategy != Strategy.PRETRAINING;
    String optimizer = blank(h.optimizer()) ? "ADAM" : h.optimizer();
    double lr =
        set(h.learningRate()) ? h.learningRate() : (automatic ? 0 : defaultLearningRate(optimizer));
    EarlyStop es = h.earlyStopping();
    EarlyStop early;
    if (es == null && automatic) {
      early = new EarlyStop(true, AUTOMATIC_STOP_METRIC, 0, 0, true);
    } else if (es == null || !es.enabled()) {
      early = new EarlyStop(false, "val_loss", 3, 0, false);
    } else {
      early =
          new EarlyStop(
              true,
              blank(es.metric()) ? "val_loss" : es.metric(),
              es.patience() != 0 ? es.patience() : (automatic ? 0 : 3),
              es.minDelta(),
              es.restoreBest());
    }
    Hyper hyperWithDefaults =
        new Hyper(
            optimizer,
            lr,
            set(h.backboneLrMultiplier()) ? h.backboneLrMultiplier() : 0.1,
            h.weightDecay(),
            set(h.momentum()) ? h.momentum() : ("SGD".equals(optimizer) ? 0.9 : 0),
            blank(h.schedule()) ? "CONSTANT" : h.schedule(),
            h.warmupEpochs(),
            h.stepEpochs() != 0 ? h.stepEpochs() : 5,
            set(h.stepGamma()) ? h.stepGamma() : 0.1,
            h.batchSize() != 0 ? h.batchSize() : 32,
            h.epochs() != 0 ? h.epochs() : (automatic ? 0 : 5),
            strategy == Strategy.GRADUAL && h.headEpochs() == 0 && !automatic ? 1 : h.headEpochs(),
            early,
            h.augmentRandomCrop(),
            h.augmentHorizontalFlip(),
            h.classWeighting(),
            h.maxSequenceLength() != 0
                ? h.maxSequenceLength()
                : dev.graft.text.TextTokenizer.DEFAULT_MAX_LENGTH);
    Split s =
        new Split(
            set(split.validationFraction()) ? split.validationFraction() : 0.1,
            set(split.testFraction()) ? split.testFraction() : 0.1,
            split.maxTrainExamples());
    Head hd =
        new Head(
            head.hiddenSizes() == null ? List.of() : List.copyOf(head.hiddenSizes()),
            blank(head.activation()) ? "relu" : head.activation().toLowerCase(),
            head.dropout(),
            head.normalizeEmbedding());
    return new RunSpec(
        experimentId,
        blank(name) ? strategy.name().toLowerCase().replace('_', '-') : name,
        baseModel == null ? "" : baseModel,
        architecture == null ? "" : architecture,
        dataset,
        strategy,
        trainLastBlocks,
        trainPatterns == null ? List.of() : List.copyOf(trainPatterns),
        hd,
        hyperWithDefaults,
        s,
        seed == 0 ? 42 : seed,
        blank(device) ? "AUTO" : device,
        modelName == null ? "" : modelName,
        cutPoint == null ? "" : cutPoint.strip());
  }

  /** Checks every value's range; the message of the first violation says what to fix. */
  public RunSpec validate() {
    require(strategy != null, "strategy is required: TRANSFER_LEARNING, FINE_TUNING, ...");
    require(NAME.matcher(name).matches(), "run name '" + name + "': use 1-128 of [A-Za-z0-9._-]");
    require(!blank(dataset), "dataset is required");
    if (strategy == Strategy.PRETRAINING) {
      require(!blank(architecture), "pre-training needs an architecture");
      require(!modelName.isEmpty(), "pre-training needs the name of the base model it creates");
    } else {
      require(!blank(baseModel), "base_model is required");
    }
    require(
        modelName.isEmpty() || NAME.matcher(modelName).matches(),
        "model_name '" + modelName + "': use 1-128 of [A-Za-z0-9._-]");
    require(
        cutPoint.isEmpty()
            || strategy == Strategy.TRANSFER_LEARNING
            || strategy == Strategy.FINE_TUNING
            || strategy == Strategy.GRADUAL,
        "cut_point '"
            + cutPoint
            + "' needs a pretrained backbone to cut: "
            + strategy
            + " trains every layer from random weights, so it has no cut point; use"
            + " TRANSFER_LEARNING, FINE_TUNING or GRADUAL, or leave cut_point empty");
    require(trainLastBlocks >= 0, "freeze.train_last_blocks must be >= 0, got " + trainLastBlocks);
    for (String p : trainPatterns) {
      require(!blank(p), "freeze.train_patterns must not contain empty patterns");
    }
    require(
        ACTIVATIONS.contains(head.activation()),
        "head.activation '" + head.activation() + "': use one of " + ACTIVATIONS);
    require(
        head.dropout() >= 0 && head.dropout() <= 0.9,
        "head.dropout must be in [0, 0.9], got " + head.dropout());
    for (int size : head.hiddenSizes()) {
      require(size >= 1 && size <= 65536, "head.hidden_sizes must be 1..65536, got " + size);
    }
    require(head.hiddenSizes().size() <= 8, "head.hidden_sizes: at most 8 hidden layers");
    Hyper h = hyper;
    require(
        Set.of("SGD", "ADAM", "ADAMW").contains(h.optimizer()),
        "optimizer '" + h.optimizer() + "': use SGD, ADAM or ADAMW");
    boolean automatic = h.automatic();
    require(
        (h.learningRate() > 0 || (automatic && h.learningRate() == 0)) && h.learningRate() <= 10,
        "learning_rate must be in (0, 10] (or 0 with epochs 0: a range test picks it), got "
            + h.learningRate());
    require(
        h.backboneLrMultiplier() > 0 && h.backboneLrMultiplier() <= 10,
        "backbone_lr_multiplier must be in (0, 10], got " + h.backboneLrMultiplier());
    require(
        h.weightDecay() >= 0 && h.weightDecay() < 1,
        "weight_decay must be in [0, 1), got " + h.weightDecay());
    require(
        h.momentum() >= 0 && h.momentum() < 1, "momentum must be in [0, 1), got " + h.momentum());
    require(
        Set.of("CONSTANT", "STEP", "COSINE", "LINEAR").contains(h.schedule()),
        "schedule '" + h.schedule() + "': use CONSTANT, STEP, COSINE or LINEAR");
    require(
        h.maxSequenceLength() >= 2
            && h.maxSequenceLength() <= dev.graft.text.TextTokenizer.MAX_MAX_LENGTH,
        "max_sequence_length must be 2-"
            + dev.graft.text.TextTokenizer.MAX_MAX_LENGTH
            + " tokens (0: 128), got "
            + h.maxSequenceLength());
    require(
        h.batchSize() >= 1 && h.batchSize() <= 4096,
        "batch_size must be 1..4096, got " + h.batchSize());
    require(
        h.epochs() >= 0 && h.epochs() <= 1000,
        "epochs must be 1..1000, or 0 for a budget chosen from the data size, got " + h.epochs());
    require(
        h.warmupEpochs() >= 0 && (automatic || h.warmupEpochs() < h.epochs()),
        "warmup_epochs must be in [0, epochs), got " + h.warmupEpochs());
    require(h.stepEpochs() >= 1, "step_epochs must be >= 1, got " + h.stepEpochs());
    require(
        h.stepGamma() > 0 && h.stepGamma() <= 1,
        "step_gamma must be in (0, 1], got " + h.stepGamma());
    require(
        h.headEpochs() >= 0 && (h.headEpochs() == 0 || automatic || h.headEpochs() < h.epochs()),
        "head_epochs must be smaller than epochs, got " + h.headEpochs());
    require(
        STOP_METRICS.contains(h.earlyStopping().metric()),
        "early_stopping.metric '" + h.earlyStopping().metric() + "': use one of " + STOP_METRICS);
    require(
        h.earlyStopping().patience() >= 1 || (automatic && h.earlyStopping().patience() == 0),
        "early_stopping.patience must be >= 1, got " + h.earlyStopping().patience());
    require(h.earlyStopping().minDelta() >= 0, "early_stopping.min_delta must be >= 0");
    require(
        split.validationFraction() > 0 && split.validationFraction() <= 0.5,
        "split.validation_fraction must be in (0, 0.5], got " + split.validationFraction());
    require(
        split.testFraction() > 0 && split.testFraction() <= 0.5,
        "split.test_fraction must be in (0, 0.5], got " + split.testFraction());
    require(
        split.validationFraction() + split.testFraction() < 0.95,
        "split.validation_fraction + split.test_fraction leave almost nothing to train on: keep"
            + " their sum below 0.95");
    require(split.maxTrainExamples() >= 0, "split.max_train_examples must be >= 0");
    require(DEVICES.contains(device), "device '" + device + "': use AUTO, CPU or GPU");
    return this;
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new GraftException.InvalidArgument(message);
    }
  }

  /**
   * Whether a number was given: only 0 (proto3's unset) takes the default, so that a negative or
   * NaN value reaches {@link #validate} and is refused instead of silently replaced.
   */
  private static boolean set(double value) {
    return value != 0;
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }
}
