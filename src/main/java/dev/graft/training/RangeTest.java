package dev.graft.training;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.model.FreezeSpec;
import dev.graft.onnx.OnnxBlock;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * The learning-rate range test (Smith 2017; fastai's {@code lr_find}): a throw-away copy of the
 * model trains for {@link #STEPS} steps while the rate grows exponentially from {@link #START} to
 * {@link #END}; the rate is the one where the smoothed loss was lowest, divided by 10 (fastai's
 * "minimum / 10" suggestion), kept within [{@link #LOWEST}, {@link #HIGHEST}] (Adam/AdamW: at most
 * {@link #HIGHEST_ADAM}). The sweep stops once the loss diverges (above 4x its minimum). When the
 * loss never turned up (lowest in the last tenth of the sweep, as on a few hundred examples the
 * model memorises) the curve does not show where training breaks, only that it had not broken by
 * the end of the sweep: the same rule then gives a rate at or above the cap, so the run takes the
 * cap. (It used to keep the optimizer's default 1e-3, which left fine-tuning at 200 MNIST examples
 * at 0.95 x the best of the learning-rate grid, whose best there was 1e-2.)
 */
final class RangeTest {

  static final int STEPS = 100;
  static final double START = 1e-6;
  static final double END = 1;
  static final double LOWEST = 1e-5;
  static final double HIGHEST = 0.1;
  static final double HIGHEST_ADAM = 0.01;
  private static final double SMOOTHING = 0.98;

  private RangeTest() {}

  /**
   * @param rate the suggested learning rate
   * @param lowestLossRate where the smoothed loss was lowest
   * @param steps steps the sweep ran before it stopped
   */
  record Result(
      double rate, double lowestLossRate, double lowestLoss, int steps, boolean conclusive) {

    String describe() {
      if (!conclusive) {
        return String.format(
            Locale.ROOT,
            "range test: %d steps from %.0e to %.0e and the smoothed loss was still falling at the"
                + " end (lowest %.4f at %.3g): no divergence seen, rate = that / 10 capped = %.3g",
            steps,
            START,
            END,
            lowestLoss,
            lowestLossRate,
            rate);
      }
      return String.format(
          Locale.ROOT,
          "range test: %d steps from %.0e to %.0e, smoothed loss lowest (%.4f) at %.3g, rate ="
              + " that / 10 = %.3g",
          steps,
          START,
          END,
          lowestLoss,
          lowestLossRate,
          rate);
    }
  }

  static Result run(
      ModelProto graph,
      FreezeSpec freeze,
      RunSpec.Hyper hyper,
      Predicate<String> isHead,
      long seed,
      Device device,
      BatchSource source,
      int[] train,
      float[] classWeights,
      int classes,
      CancelToken token) {
    RunSpec.Hyper unit = hyper.withLearningRate(1);
    double best = Double.POSITIVE_INFINITY;
    int bestStep = 0;
    double bestRate = START;
    double average = 0;
    int done = 0;
    Engine.getInstance().setRandomSeed((int) (seed * 31L + 17));
    try (Model model = Model.newInstance("graft-range-test", device)) {
      OnnxBlock block = new OnnxBlock(graph, freeze.predicate(graph));
      model.setBlock(block);
      GroupOptimizer optimizer = new GroupOptimizer(unit, isHead);
      DefaultTrainingConfig config =
          new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
              .optOptimizer(optimizer)
              .optDevices(new Device[] {device});
      try (Trainer trainer = model.newTrainer(config)) {
        trainer.initialize(source.initShapes());
        optimizer.bind(block);
        int batchSize = Math.min(hyper.batchSize(), train.length);
        int[] order = TrainingLoop.shuffled(train, seed * 7_777L + 3);
        int position = 0;
        java.util.SplittableRandom augmentRandom = new java.util.SplittableRandom(seed * 7_919L);
        try (NDManager manager = trainer.getManager().newSubManager()) {
          NDArray weights = classWeights == null ? null : manager.create(classWeights);
          for (int step = 0; step < STEPS; step++) {
            token.check();
            double rate = START * Math.pow(END / START, step / (double) (STEPS - 1));
            if (position + batchSize > order.length) {
              order = TrainingLoop.shuffled(train, seed * 7_777L + 3 + step);
              position = 0;
            }
            int[] idx = Arrays.copyOfRange(order, position, position + batchSize);
            position += batchSize;
            BatchSource.Batch batch = source.batch(idx, hyper.augments(), augmentRandom);
            optimizer.setFactor(rate);
            float loss;
            try (NDManager m = manager.newSubManager()) {
              NDList x = source.arrays(m, batch);
              NDArray y = m.create(batch.labels());
              try (GradientCollector collector = trainer.newGradientCollector()) {
                NDArray logits = trainer.forward(x).singletonOrThrow();
                NDArray l = Losses.crossEntropy(logits, y, classes, weights);
                collector.backward(l);
                loss = l.getFloat();
              }
              trainer.step();
            }
            done = step + 1;
            if (!Float.isFinite(loss)) {
              break;
            }
            average = SMOOTHING * average + (1 - SMOOTHING) * loss;
            double smoothed = average / (1 - Math.pow(SMOOTHING, step + 1));
            if (smoothed < best) {
              best = smoothed;
              bestRate = rate;
              bestStep = step;
            }
            if (step > 10 && smoothed > 4 * best) {
              break;
            }
          }
        }
      }
    }
    double highest = "SGD".equals(hyper.optimizer()) ? HIGHEST : HIGHEST_ADAM;
    boolean conclusive = bestStep < STEPS * 9 / 10;
    double suggested = Math.max(LOWEST, Math.min(highest, bestRate / 10));
    return new Result(suggested, bestRate, best, done, conclusive);
  }
}
