package dev.graft.training;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphSurgery;
import dev.graft.onnx.OnnxBlock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * The epochs of one run: train, validate, record, checkpoint, stop early. Everything random is
 * derived from the seed and the epoch, so a run resumed from its checkpoint sees the same batches
 * as an uninterrupted one.
 */
final class TrainingLoop {

  /** What the loop reports to (the job records metrics and events through it). */
  interface Listener {
    void progress(
        int epoch, int batchesDone, int batchesTotal, double examplesPerSecond, double trainLoss);

    void epochEnded(int epoch, Map<String, Double> values);
  }

  private static final java.util.concurrent.locks.ReentrantLock GRADIENTS =
      new java.util.concurrent.locks.ReentrantLock(true);

  private final RunSpec spec;
  private final Device device;
  private final BatchSource source;
  private final int[] train;
  private final int[] validation;
  private final float[] classWeights;
  private final int classes;
  private final Checkpoint checkpoint;
  private final CancelToken token;
  private final Listener listener;
  private final long progressIntervalNanos;

  TrainingLoop(
      RunSpec spec,
      Device device,
      BatchSource source,
      int[] train,
      int[] validation,
      float[] classWeights,
      int classes,
      Checkpoint checkpoint,
      CancelToken token,
      Listener listener,
      long progressIntervalMs) {
    this.spec = spec;
    this.device = device;
    this.source = source;
    this.train = train;
    this.validation = validation;
    this.classWeights = classWeights;
    this.classes = classes;
    this.checkpoint = checkpoint;
    this.token = token;
    this.listener = listener;
    this.progressIntervalNanos = progressIntervalMs * 1_000_000;
  }

  /**
   * Trains {@code graph} and returns it with the trained weights (the best epoch's when early
   * stopping restores them).
   *
   * @param freezeAt which initializers train in a given epoch (0-based)
   */
  ModelProto run(ModelProto graph, Function<Integer, FreezeSpec> freezeAt) {
    return run(graph, freezeAt, Map.of());
  }

  /**
   * As {@link #run(ModelProto, Function)}, with {@code graph} itself as epoch 0 of early stopping
   * when {@code start} (its validation metrics) holds the early-stopping metric: LP-FT's
   * fine-tuning must beat the linear probe it starts from, else the probe is what the run keeps.
   */
  ModelProto run(
      ModelProto graph, Function<Integer, FreezeSpec> freezeAt, Map<String, Double> start) {
    RunSpec.Hyper h = spec.hyper();
    RunSpec.EarlyStop early = h.earlyStopping();
    boolean resuming = checkpoint.exists();
    Double startValue = start.get(early.metric());
    boolean baseline = !resuming && startValue != null && early.enabled();
    Checkpoint.State state =
        resuming
            ? checkpoint.state()
            : baseline
                ? new Checkpoint.State(
                    0,
                    startValue,
                    0,
                    0,
                    false,
                    start.getOrDefault("val_loss", Double.POSITIVE_INFINITY))
                : Checkpoint.State.initial(early.lowerIsBetter());
    ModelProto current = resuming ? checkpoint.weights() : graph;
    ModelProto best = resuming ? checkpoint.best() : (baseline ? graph : null);
    boolean restoreOptimizer = resuming;
    while (state.epochsDone() < h.epochs() && !state.stopped()) {
      FreezeSpec freeze = freezeAt.apply(state.epochsDone());
      try (Model model = Model.newInstance("graft-run", device)) {
        OnnxBlock block = new OnnxBlock(current, freeze.predicate(current));
        model.setBlock(block);
        GroupOptimizer optimizer =
            new GroupOptimizer(
                h, spec.strategy().slowsBackbone() ? GraphSurgery::isHead : name -> true);
        DefaultTrainingConfig config =
            new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(optimizer)
                .optDevices(new Device[] {device});
        try (Trainer trainer = model.newTrainer(config)) {
          trainer.initialize(source.initShapes());
          optimizer.bind(block);
          // Optimizer state carries over only within a phase (GRADUAL starts phase 2 fresh).
          if (restoreOptimizer
              && state.epochsDone() > 0
              && freezeAt.apply(state.epochsDone() - 1).equals(freeze)) {
            try (NDManager scratch = NDManager.newBaseManager(Device.cpu())) {
              optimizer.loadState(checkpoint.optimizerState(scratch), block);
            }
          }
          restoreOptimizer = false;
          // One phase: until the freeze spec changes (GRADUAL) or the run ends.
          while (state.epochsDone() < h.epochs()
              && !state.stopped()
              && freezeAt.apply(state.epochsDone()).equals(freeze)) {
            int epoch = state.epochsDone();
            Map<String, Double> values = epoch(trainer, optimizer, epoch);
            double value = values.get(early.metric());
            double loss = values.get("val_loss");
            boolean improved = improved(early, value, loss, state);
            ModelProto weights = block.toModelProto();
            if (improved && early.enabled() && early.restoreBest()) {
              best = weights;
            }
            int since = improved ? 0 : state.sinceImprovement() + 1;
            boolean stop = early.enabled() && since >= early.patience();
            state =
                new Checkpoint.State(
                    epoch + 1,
                    improved ? value : state.bestValue(),
                    improved ? epoch + 1 : state.bestEpoch(),
                    since,
                    stop,
                    improved ? loss : state.bestLoss());
            // Metrics first, then the checkpoint: a kill in between leaves the epoch recorded but
            // not checkpointed, and a resume redoes it and records it again. The other order
            // could leave a checkpointed epoch that is never recorded.
            listener.epochEnded(epoch + 1, values);
            token.check(); // no checkpoint swap by a trainer that lost the run's lease
            try (NDManager scratch = NDManager.newBaseManager(Device.cpu())) {
              checkpoint.save(weights, optimizer.saveState(scratch), state, improved ? best : null);
            }
            current = weights;
          }
        }
      }
    }
    return early.enabled() && early.restoreBest() && best != null ? best : current;
  }

  /**
   * Whether an epoch beats the best so far: by more than {@code min_delta} on the metric, or, for a
   * higher-is-better metric (accuracy, macro-F1: discrete on a finite validation set), by the same
   * value at a lower validation loss, so that a plateau of equal accuracies keeps the
   * best-calibrated epoch and is not counted as a lack of progress while the loss still falls.
   */
  static boolean improved(
      RunSpec.EarlyStop early, double value, double loss, Checkpoint.State best) {
    if (early.lowerIsBetter()) {
      return value < best.bestValue() - early.minDelta();
    }
    return value > best.bestValue() + early.minDelta()
        || (value == best.bestValue() && loss < best.bestLoss());
  }

  private Map<String, Double> epoch(Trainer trainer, GroupOptimizer optimizer, int epoch) {
    RunSpec.Hyper h = spec.hyper();
    LearningRateSchedule schedule = LearningRateSchedule.of(h);
    int[] order = shuffled(train, spec.seed() * 1_000_003L + epoch);
    // Dropout draws from the run's own generator, seeded per epoch, so that a run resumed at this
    // epoch draws what an uninterrupted one would, whatever other runs train at the same time.
    ((OnnxBlock) trainer.getModel().getBlock()).seedDropout(spec.seed() * 7_001L + epoch);
    SplittableRandom augmentRandom = new SplittableRandom(spec.seed() * 7_919L + epoch);
    int batchSize = h.batchSize();
    int batches = (order.length + batchSize - 1) / batchSize;
    long start = System.nanoTime();
    long lastProgress = start;
    double lossSum = 0;
    long seen = 0;
    try (NDManager epochManager = trainer.getManager().newSubManager()) {
      NDArray weights = classWeights == null ? null : epochManager.create(classWeights);
      for (int b = 0; b < batches; b++) {
        token.check();
        int from = b * batchSize;
        int to = Math.min(order.length, from + batchSize);
        int[] idx = java.util.Arrays.copyOfRange(order, from, to);
        BatchSource.Batch batch = source.batch(idx, h.augments(), augmentRandom);
        optimizer.setFactor(schedule.factor(epoch, (double) b / batches));
        try (NDManager batchManager = epochManager.newSubManager()) {
          NDList x = source.arrays(batchManager, batch);
          NDArray y = batchManager.create(batch.labels());
          float loss;
          // DJL's PyTorch gradient collector is one per process: runs training at the same time
          // (max-concurrent-cpu-runs > 1) take turns for forward + backward, in arrival order.
          GRADIENTS.lock();
          try (GradientCollector collector = trainer.newGradientCollector()) {
            NDArray logits = trainer.forward(x).singletonOrThrow();
            NDArray l = Losses.crossEntropy(logits, y, classes, weights);
            collector.backward(l);
            loss = l.getFloat();
          } finally {
            GRADIENTS.unlock();
          }
          trainer.step();
          lossSum += (double) loss * idx.length;
          seen += idx.length;
        }
        long now = System.nanoTime();
        if (now - lastProgress >= progressIntervalNanos || b == batches - 1) {
          lastProgress = now;
          listener.progress(
              epoch + 1, b + 1, batches, seen / ((now - start) / 1e9), lossSum / seen);
        }
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    Evaluation val = evaluate(trainer, validation);
    Map<String, Double> values = new LinkedHashMap<>();
    values.put("train_loss", lossSum / Math.max(seen, 1));
    values.putAll(val.metrics("val"));
    values.put("epoch_seconds", seconds);
    values.put("examples_per_second", seen / seconds);
    values.put("learning_rate", optimizer.headLearningRate());
    return values;
  }

  private Evaluation evaluate(Trainer trainer, int[] indices) {
    Evaluation eval = new Evaluation(classes);
    int batchSize = Math.min(Math.max(spec.hyper().batchSize(), 64), source.inferenceBatchLimit());
    for (int from = 0; from < indices.length; from += batchSize) {
      token.check();
      int[] idx =
          java.util.Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batchSize));
      BatchSource.Batch batch = source.batch(idx, false, null);
      try (NDManager m = trainer.getManager().newSubManager()) {
        NDArray logits = trainer.evaluate(source.arrays(m, batch)).singletonOrThrow();
        Losses.accumulate(eval, logits, batch.labels(), classes);
      }
    }
    return eval;
  }

  static int[] shuffled(int[] indices, long seed) {
    int[] a = indices.clone();
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = a.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  static long[] prepend(long first, long[] rest) {
    long[] out = new long[rest.length + 1];
    out[0] = first;
    System.arraycopy(rest, 0, out, 1, rest.length);
    return out;
  }
}
