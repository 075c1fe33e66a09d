package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.onnx.proto.OnnxMl.ModelProto;
import com.sun.management.OperatingSystemMXBean;
import dev.graft.model.Architecture;
import dev.graft.model.Architectures;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphSurgery;
import dev.graft.model.HeadSpec;
import dev.graft.onnx.OnnxBlock;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not tests of behaviour: the training benchmarks of issue 5, each printing a ratio measured in one
 * JVM on the same model and data.
 *
 * <ul>
 *   <li>Throughput of Graft's {@link TrainingLoop} (batches from a {@link BatchSource}, {@link
 *       GroupOptimizer}, validation and a checkpoint per epoch) against a bare DJL {@link
 *       EasyTrain#fit} over an {@link ArrayDataset}, both training the same cnn-small {@link
 *       OnnxBlock} with Adam, in alternating one-epoch rounds (target: at least 0.95).
 *   <li>A transfer-learning epoch on cached features against a fine-tuning epoch (target: at least
 *       10x faster), with the one-off cost of computing the features.
 *   <li>Peak resident memory of a transfer-learning run against a fine-tuning run.
 * </ul>
 *
 * <p>{@code ./mvnw -o -Pbench test -Dtest=TrainingBenchmarkTest}; {@code -Dgraft.bench.examples},
 * {@code .rounds} resize it. Data are random images in memory, so the dataset reader's cost is out
 * of every side (it would only add to Graft's fine-tuning time).
 */
@Tag("bench")
class TrainingBenchmarkTest {

  private static final int CLASSES = 10;
  private static final int BATCH = 32;
  private static final int EXAMPLES = Integer.getInteger("graft.bench.examples", 2048);
  private static final int VALIDATION = 128;
  private static final int ROUNDS = Integer.getInteger("graft.bench.rounds", 6);
  private static final long[] IMAGE = {1, 28, 28};
  private static final OperatingSystemMXBean OS =
      (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private static float[][] images;
  private static int[] labels;
  private static ModelProto graph;
  private static Architecture arch;

  @BeforeAll
  static void data() {
    Engine.getInstance().setRandomSeed(1);
    SplittableRandom random = new SplittableRandom(3);
    int n = EXAMPLES + VALIDATION;
    images = new float[n][784];
    labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = random.nextInt(CLASSES);
      for (int p = 0; p < 784; p++) {
        // A class-dependent pattern plus noise, so that the loss actually falls.
        images[i][p] = (float) ((p % (labels[i] + 2) == 0 ? 1 : -1) * 0.5 + random.nextGaussian());
      }
    }
    arch = Architectures.get("cnn-small");
    graph =
        GraphSurgery.appendHead(
            arch.backbone(11), arch.featureTensor(), HeadSpec.linear(CLASSES), 11);
  }

  private static BatchSource memory(float[][] rows, long[] shape) {
    int size = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    return new BatchSource() {
      @Override
      public long[] exampleShape() {
        return shape;
      }

      @Override
      public Batch batch(int[] indices, boolean augment, SplittableRandom random) {
        float[] x = new float[indices.length * size];
        int[] y = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
          System.arraycopy(rows[indices[i]], 0, x, i * size, size);
          y[i] = labels[indices[i]];
        }
        return new Batch(x, y);
      }
    };
  }

  private static RunSpec spec(Strategy strategy, int epochs) {
    return spec(strategy, epochs, BATCH);
  }

  private static RunSpec spec(Strategy strategy, int epochs, int batch) {
    return new RunSpec(
            1,
            "bench",
            "bench-base",
            "",
            "bench-data",
            strategy,
            0,
            List.of(),
            new RunSpec.Head(List.of(), "", 0),
            new RunSpec.Hyper(
                "ADAM", 0.001, 0, 0, 0, "", 0, 0, 0, batch, epochs, 0, null, false, false, false),
            new RunSpec.Split(0.1, 0.1, 0),
            5,
            "CPU",
            "")
        .withDefaults()
        .validate();
  }

  /** Values of each epoch, as the job would record them. */
  private static final class Recorder implements TrainingLoop.Listener {
    final List<Map<String, Double>> epochs = new ArrayList<>();
    long peakRss;

    @Override
    public void progress(int epoch, int done, int total, double examplesPerSecond, double loss) {
      peakRss = Math.max(peakRss, MemoryWatch.current());
    }

    @Override
    public void epochEnded(int epoch, Map<String, Double> values) {
      peakRss = Math.max(peakRss, MemoryWatch.current());
      epochs.add(values);
    }
  }

  private static TrainingLoop loop(
      Strategy strategy, int epochs, BatchSource source, Path dir, Recorder recorder) {
    return loop(strategy, epochs, BATCH, source, dir, recorder);
  }

  private static TrainingLoop loop(
      Strategy strategy, int epochs, int batch, BatchSource source, Path dir, Recorder recorder) {
    return new TrainingLoop(
        spec(strategy, epochs, batch),
        Device.cpu(),
        source,
        IntStream.range(0, EXAMPLES).toArray(),
        IntStream.range(EXAMPLES, EXAMPLES + VALIDATION).toArray(),
        null,
        CLASSES,
        new Checkpoint(dir),
        new CancelToken(),
        recorder,
        1_000_000);
  }

  /** Wall and process-CPU seconds of one Graft epoch, and its training-phase wall seconds. */
  private static double[] graftEpoch(Path dir) {
    Recorder recorder = new Recorder();
    TrainingLoop loop = loop(Strategy.FROM_SCRATCH, 1, memory(images, IMAGE), dir, recorder);
    long cpu = OS.getProcessCpuTime();
    long start = System.nanoTime();
    loop.run(graph, epoch -> FreezeSpec.none());
    return new double[] {
      (System.nanoTime() - start) / 1e9,
      (OS.getProcessCpuTime() - cpu) / 1e9,
      recorder.epochs.get(0).get("epoch_seconds")
    };
  }

  /** The same for DJL's own loop: a fresh model and trainer, EasyTrain.fit over one epoch. */
  private static double[] djlEpoch(NDArray x, NDArray y) throws Exception {
    long cpu = OS.getProcessCpuTime();
    long start = System.nanoTime();
    double fit;
    try (Model model = Model.newInstance("djl", Device.cpu())) {
      model.setBlock(new OnnxBlock(graph, name -> true));
      DefaultTrainingConfig config =
          new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
              .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.001f)).build())
              .optDevices(new Device[] {Device.cpu()});
      try (Trainer trainer = model.newTrainer(config)) {
        trainer.initialize(new Shape(1, 1, 28, 28));
        ArrayDataset data =
            new ArrayDataset.Builder().setData(x).optLabels(y).setSampling(BATCH, true).build();
        long fitStart = System.nanoTime();
        EasyTrain.fit(trainer, 1, data, null);
        fit = (System.nanoTime() - fitStart) / 1e9;
      }
    }
    return new double[] {
      (System.nanoTime() - start) / 1e9, (OS.getProcessCpuTime() - cpu) / 1e9, fit
    };
  }

  @Test
  void trainingLoopThroughputAgainstEasyTrain() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("target"), "bench-loop-");
    try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
      float[] flat = new float[EXAMPLES * 784];
      float[] y = new float[EXAMPLES];
      for (int i = 0; i < EXAMPLES; i++) {
        System.arraycopy(images[i], 0, flat, i * 784, 784);
        y[i] = labels[i];
      }
      NDArray x = manager.create(flat, new Shape(EXAMPLES, 1, 28, 28));
      NDArray yy = manager.create(y);
      graftEpoch(dir.resolve("warm"));
      djlEpoch(x, yy);
      double[] graft = new double[3];
      double[] djl = new double[3];
      double[][] perRound = new double[3][ROUNDS];
      for (int r = 0; r < ROUNDS; r++) {
        double[] g;
        double[] d;
        // Alternate who goes first, so that neither always runs on a warmer cache.
        if (r % 2 == 0) {
          g = graftEpoch(dir.resolve("round-" + r));
          d = djlEpoch(x, yy);
        } else {
          d = djlEpoch(x, yy);
          g = graftEpoch(dir.resolve("round-" + r));
        }
        for (int k = 0; k < 3; k++) {
          graft[k] += g[k];
          djl[k] += d[k];
          perRound[k][r] = d[k] / g[k];
        }
      }
      String[] what = {"wall (whole run)", "process cpu (whole run)", "wall (training phase)"};
      for (int k = 0; k < 3; k++) {
        double[] sorted = perRound[k].clone();
        Arrays.sort(sorted);
        System.out.printf(
            "BENCH training-loop %-24s graft=%.1f ex/s djl-easytrain=%.1f ex/s ratio=%.3f"
                + " median_round_ratio=%.3f (%d rounds of %d examples, batch %d)%n",
            what[k],
            ROUNDS * EXAMPLES / graft[k],
            ROUNDS * EXAMPLES / djl[k],
            djl[k] / graft[k],
            sorted[ROUNDS / 2],
            ROUNDS,
            EXAMPLES,
            BATCH);
      }
    } finally {
      deleteTree(dir);
    }
  }

  @Test
  void cachedTransferLearningEpochAgainstFineTuningEpoch() throws IOException {
    Path dir = Files.createTempDirectory(Path.of("target"), "bench-cache-");
    try {
      int epochs = 3;
      Recorder ft = new Recorder();
      loop(Strategy.FINE_TUNING, epochs, memory(images, IMAGE), dir.resolve("ft"), ft)
          .run(graph, epoch -> FreezeSpec.none());

      long start = System.nanoTime();
      BatchSource raw = memory(images, IMAGE);
      int[] all = IntStream.range(0, EXAMPLES + VALIDATION).toArray();
      float[][] features =
          Features.compute(
              GraphSurgery.cut(graph, arch.featureTensor()),
              raw,
              all,
              all.length,
              Device.cpu(),
              new CancelToken());
      double featureSeconds = (System.nanoTime() - start) / 1e9;
      long[] featureShape = GraphSurgery.featureShape(graph, arch.featureTensor());
      Recorder tl = new Recorder();
      ModelProto head = HeadGraph.extract(graph, arch.featureTensor(), featureShape);
      loop(
              Strategy.TRANSFER_LEARNING,
              epochs,
              memory(features, featureShape),
              dir.resolve("tl"),
              tl)
          .run(head, epoch -> FreezeSpec.none());

      // The first epoch of each warms up; compare the later ones.
      double ftEpoch = mean(ft, "epoch_seconds");
      double tlEpoch = mean(tl, "epoch_seconds");
      System.out.printf(
          "BENCH tl-cache-vs-ft epoch: fine-tuning %.3f s, transfer learning on cached features"
              + " %.4f s: ratio=%.1fx (target >= 10x); features computed once in %.3f s"
              + " (%d examples); TL run incl. features over %d epochs vs FT: %.1fx%n",
          ftEpoch,
          tlEpoch,
          ftEpoch / tlEpoch,
          featureSeconds,
          all.length,
          epochs,
          (ftEpoch * epochs) / (featureSeconds + tlEpoch * epochs));
      assertTrue(ftEpoch > 0 && tlEpoch > 0);
    } finally {
      deleteTree(dir);
    }
  }

  /**
   * Resident set before and at the peak of each run (sampled every 2 ms), batch 256 so that
   * activations count; transfer learning first, since the allocator seldom returns memory and would
   * hide the smaller run's peak behind the larger one's. (Each strategy in a child JVM would be
   * cleaner; launched from the test class path, that JVM crashed in libtorch.)
   */
  @Test
  void peakMemoryOfTransferLearningAgainstFineTuning() throws Exception {
    long[] tl = measure("TL");
    long[] ft = measure("FT");
    System.out.printf(
        "BENCH peak-rss (one JVM, TL first, batch %d, %d examples): transfer learning (cached)"
            + " before %d MiB peak %d MiB (+%d MiB); fine-tuning before %d MiB peak %d MiB"
            + " (+%d MiB); FT/TL peak=%.2f, FT/TL increase=%.1f%n",
        MEMORY_BATCH,
        EXAMPLES + VALIDATION,
        tl[0] >> 20,
        tl[1] >> 20,
        (tl[1] - tl[0]) >> 20,
        ft[0] >> 20,
        ft[1] >> 20,
        (ft[1] - ft[0]) >> 20,
        (double) ft[1] / tl[1],
        (double) (ft[1] - ft[0]) / Math.max(1, tl[1] - tl[0]));
  }

  private static final int MEMORY_BATCH = 256;

  /** Two epochs of one strategy; returns the RSS before and its peak during the run. */
  private static long[] measure(String mode) throws Exception {
    System.gc();
    long baseline = MemoryWatch.current();
    java.util.concurrent.atomic.AtomicLong peak = new java.util.concurrent.atomic.AtomicLong();
    Thread sampler =
        new Thread(
            () -> {
              while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet(MemoryWatch.current(), Math::max);
                try {
                  Thread.sleep(2);
                } catch (InterruptedException e) {
                  return;
                }
              }
            });
    sampler.setDaemon(true);
    sampler.start();
    Path dir = Files.createTempDirectory(Path.of("target"), "bench-mem-");
    try {
      BatchSource raw = memory(images, IMAGE);
      if (mode.equals("TL")) {
        int[] all = IntStream.range(0, EXAMPLES + VALIDATION).toArray();
        float[][] features =
            Features.compute(
                GraphSurgery.cut(graph, arch.featureTensor()),
                raw,
                all,
                all.length,
                Device.cpu(),
                new CancelToken());
        long[] shape = GraphSurgery.featureShape(graph, arch.featureTensor());
        loop(
                Strategy.TRANSFER_LEARNING,
                2,
                MEMORY_BATCH,
                memory(features, shape),
                dir,
                new Recorder())
            .run(HeadGraph.extract(graph, arch.featureTensor(), shape), e -> FreezeSpec.none());
      } else {
        loop(Strategy.FINE_TUNING, 2, MEMORY_BATCH, raw, dir, new Recorder())
            .run(graph, e -> FreezeSpec.none());
      }
    } finally {
      sampler.interrupt();
      sampler.join();
      deleteTree(dir);
    }
    peak.accumulateAndGet(MemoryWatch.current(), Math::max);
    return new long[] {baseline, peak.get()};
  }

  private static double mean(Recorder r, String key) {
    return r.epochs.stream()
        .skip(r.epochs.size() > 1 ? 1 : 0)
        .mapToDouble(m -> m.getOrDefault(key, 0.0))
        .average()
        .orElse(0);
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }
}
