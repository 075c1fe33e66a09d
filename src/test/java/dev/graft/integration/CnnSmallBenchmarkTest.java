package dev.graft.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.model.Architectures;
import dev.graft.onnx.OnnxBlock;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Not a test of behaviour: forward+backward+update throughput of the real {@code cnn-small}
 * executed from its ONNX graph by {@link OnnxBlock}, against the same network built from DJL's own
 * blocks with the same weights, on the same data in one JVM, in alternating rounds. Prints the
 * ratio of throughputs (ONNX block / DJL blocks; the target is at least 0.95): over all rounds, and
 * the median of the per-round ratios, which a machine shared with other jobs disturbs less. Many
 * short rounds rather than few long ones, so that load from elsewhere hits both sides alike. Both
 * wall-clock and CPU-time ratios are printed; on a shared machine run with {@code
 * -Dai.djl.pytorch.num_threads=1} and trust the CPU ratio (with more threads it misses the workers'
 * time, and busy-waiting workers make wall time erratic).
 *
 * <p>{@code ./mvnw -o -Pbench test -Dtest=CnnSmallBenchmarkTest}; {@code -Dgraft.bench.batch},
 * {@code .iters}, {@code .rounds} size it and {@code -Dgraft.bench.gpu=true} runs on the GPU.
 */
@Tag("bench")
class CnnSmallBenchmarkTest {

  private static final int CLASSES = 10;
  private static final int BATCH = Integer.getInteger("graft.bench.batch", 32);
  private static final int ITERS = Integer.getInteger("graft.bench.iters", 4);
  private static final int ROUNDS = Integer.getInteger("graft.bench.rounds", 40);
  private static final int[] CHANNELS = {16, 32, 64};
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

  /** cnn-small from DJL blocks: conv3x3 (no bias) → BN → ReLU → maxpool2, GAP, Linear. */
  static Block djlCnnSmall() {
    SequentialBlock net = new SequentialBlock();
    for (int c : CHANNELS) {
      net.add(
              Conv2d.builder()
                  .setKernelShape(new Shape(3, 3))
                  .optPadding(new Shape(1, 1))
                  .optBias(false)
                  .setFilters(c)
                  .build())
          .add(BatchNorm.builder().optEpsilon(1e-5f).optMomentum(0.9f).build())
          .add(Activation::relu)
          .add(Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)));
    }
    return net.add(Pool.globalAvgPool2dBlock())
        .add(Blocks.batchFlattenBlock())
        .add(Linear.builder().setUnits(CLASSES).build());
  }

  @Test
  void cnnSmallThroughputAgainstDjlBlocks() {
    Engine.getInstance().setRandomSeed(1);
    Device device = Boolean.getBoolean("graft.bench.gpu") ? Device.gpu() : Device.cpu();
    ModelProto graph = Architectures.get("cnn-small").classifier(CLASSES, 1);
    Shape input = new Shape(BATCH, 1, 28, 28);
    try (Model onnx = Model.newInstance("onnx", device);
        Model djl = Model.newInstance("djl", device)) {
      OnnxBlock onnxBlock = new OnnxBlock(graph, n -> true);
      onnx.setBlock(onnxBlock);
      djl.setBlock(djlCnnSmall());
      try (Trainer a = onnx.newTrainer(Pipeline.trainerConfig(Pipeline.sgd(0.01f)));
          Trainer b = djl.newTrainer(Pipeline.trainerConfig(Pipeline.sgd(0.01f)));
          NDManager data = NDManager.newBaseManager(device)) {
        a.initialize(input);
        b.initialize(input);
        copyWeights(onnxBlock, djl.getBlock());
        NDArray x = data.randomNormal(input);
        NDArray y =
            data.randomInteger(0, CLASSES, new Shape(BATCH), DataType.INT64)
                .toType(DataType.FLOAT32, false);
        assertSameFunction(onnxBlock, djl.getBlock(), x);

        run(a, x, y, 5);
        run(b, x, y, 5);
        double[] onnxTotal = new double[2];
        double[] djlTotal = new double[2];
        double[][] ratios = new double[2][ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
          // Alternate who goes first so that neither always runs on a warmer cache.
          double[] o;
          double[] d;
          if (round % 2 == 0) {
            d = run(b, x, y, ITERS);
            o = run(a, x, y, ITERS);
          } else {
            o = run(a, x, y, ITERS);
            d = run(b, x, y, ITERS);
          }
          for (int k = 0; k < 2; k++) {
            onnxTotal[k] += o[k];
            djlTotal[k] += d[k];
            ratios[k][round] = d[k] / o[k];
          }
        }
        String[] clocks = {"wall", "cpu"};
        for (int k = 0; k < 2; k++) {
          double[] sorted = ratios[k].clone();
          Arrays.sort(sorted);
          System.out.printf(
              "BENCH cnn-small %s device=%s torch_threads=%s batch=%d iters=%d onnx=%.1f img/s"
                  + " djl=%.1f img/s ratio=%.3f median_round_ratio=%.3f quartiles=[%.3f, %.3f]%n",
              clocks[k],
              device,
              System.getProperty("ai.djl.pytorch.num_threads", "default"),
              BATCH,
              ROUNDS * ITERS,
              ROUNDS * ITERS * BATCH / onnxTotal[k],
              ROUNDS * ITERS * BATCH / djlTotal[k],
              djlTotal[k] / onnxTotal[k],
              sorted[ROUNDS / 2],
              sorted[ROUNDS / 4],
              sorted[3 * ROUNDS / 4]);
        }
      }
    }
  }

  /**
   * Gives the DJL network the ONNX graph's initial weights. Both list their parameters in layer
   * order (conv weight; BN gamma, beta, mean, var; …; linear weight, bias), so they pair up.
   */
  private static void copyWeights(OnnxBlock from, Block to) {
    List<Parameter> source = new ArrayList<>(from.getParameters().values());
    List<Parameter> target = new ArrayList<>(to.getParameters().values());
    assertEquals(source.size(), target.size(), "same number of parameters");
    for (int i = 0; i < source.size(); i++) {
      NDArray s = source.get(i).getArray();
      NDArray t = target.get(i).getArray();
      assertEquals(s.getShape(), t.getShape(), source.get(i).getName());
      t.set(s.toByteBuffer());
    }
  }

  /** The two networks are the same function, so the comparison is fair. */
  private static void assertSameFunction(OnnxBlock onnx, Block djl, NDArray x) {
    try (NDManager m = x.getManager().newSubManager()) {
      NDArray p = onnx.forward(new ParameterStore(m, false), new NDList(x), false).head();
      NDArray q = djl.forward(new ParameterStore(m, false), new NDList(x), false).head();
      float diff = p.sub(q).abs().max().getFloat();
      assertTrue(diff < 1e-5, "the DJL network differs from cnn-small by " + diff);
    }
  }

  /**
   * Wall-clock and CPU seconds of this thread for {@code iters} forward+backward+step iterations.
   * CPU time counts only work done, so it stays comparable when other jobs compete for the cores;
   * with one intra-op thread libtorch (autograd included) computes on this thread, so it is all of
   * it.
   */
  private static double[] run(Trainer t, NDArray x, NDArray y, int iters) {
    long cpu = CPU.getCurrentThreadCpuTime();
    long start = System.nanoTime();
    for (int i = 0; i < iters; i++) {
      try (NDManager batch = t.getManager().newSubManager()) {
        NDArray xb = x.duplicate();
        xb.attach(batch);
        try (GradientCollector gc = t.newGradientCollector()) {
          NDList pred = t.forward(new NDList(xb));
          NDArray loss = t.getLoss().evaluate(new NDList(y), pred);
          gc.backward(loss);
          loss.getFloat();
        }
        t.step();
      }
    }
    return new double[] {
      (System.nanoTime() - start) / 1e9, (CPU.getCurrentThreadCpuTime() - cpu) / 1e9
    };
  }
}
