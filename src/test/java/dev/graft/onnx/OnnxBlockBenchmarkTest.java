package dev.graft.onnx;

import static dev.graft.onnx.TestGraphs.FLOAT;
import static dev.graft.onnx.TestGraphs.attr;
import static dev.graft.onnx.TestGraphs.ints;
import static dev.graft.onnx.TestGraphs.s;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.onnx.proto.OnnxMl.ModelProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Not a test: forward+backward+step throughput of a small CNN as an ONNX graph in {@link OnnxBlock}
 * versus the same network built from DJL's own blocks, on the same data in one run. Run with {@code
 * -Dgraft.bench=true} (optionally {@code -Dgraft.bench.gpu=true}).
 */
@EnabledIfSystemProperty(named = "graft.bench", matches = "true")
class OnnxBlockBenchmarkTest {

  private static final int BATCH = Integer.getInteger("graft.bench.batch", 32);
  private static final int ITERS = Integer.getInteger("graft.bench.iters", 10);
  private static final int ROUNDS = Integer.getInteger("graft.bench.rounds", 10);

  /** conv16-bn-relu-pool, conv32-bn-relu-pool, flatten, linear(10) on 3x32x32. */
  static ModelProto cnnGraph() {
    TestGraphs g = new TestGraphs(1);
    g.input("x", FLOAT, -1, 3, 32, 32).output("y", FLOAT);
    int[] ch = {3, 16, 32};
    String prev = "x";
    for (int b = 1; b <= 2; b++) {
      String p = "block" + b;
      g.initRandom(p + ".conv.weight", ch[b], ch[b - 1], 3, 3);
      g.initRandom(p + ".conv.bias", ch[b]);
      g.init(p + ".bn.weight", new long[] {ch[b]}, ones(ch[b], 1f));
      g.init(p + ".bn.bias", new long[] {ch[b]}, ones(ch[b], 0f));
      g.init(p + ".bn.running_mean", new long[] {ch[b]}, ones(ch[b], 0f));
      g.init(p + ".bn.running_var", new long[] {ch[b]}, ones(ch[b], 1f));
      g.node(
          "Conv",
          p + "/conv",
          s(prev, p + ".conv.weight", p + ".conv.bias"),
          s(p + "_c"),
          ints("pads", 1, 1, 1, 1));
      g.node(
          "BatchNormalization",
          p + "/bn",
          s(
              p + "_c",
              p + ".bn.weight",
              p + ".bn.bias",
              p + ".bn.running_mean",
              p + ".bn.running_var"),
          s(p + "_b"),
          attr("momentum", 0.9f));
      g.node("Relu", p + "/relu", s(p + "_b"), s(p + "_r"));
      g.node(
          "MaxPool",
          p + "/pool",
          s(p + "_r"),
          s(p + "_p"),
          ints("kernel_shape", 2, 2),
          ints("strides", 2, 2));
      prev = p + "_p";
    }
    g.initRandom("head.weight", 10, 32 * 8 * 8);
    g.initRandom("head.bias", 10);
    g.node("Flatten", "flatten", s(prev), s("f"));
    g.node("Gemm", "head", s("f", "head.weight", "head.bias"), s("y"), attr("transB", 1L));
    return g.build();
  }

  static Block djlBlocks() {
    SequentialBlock net = new SequentialBlock();
    for (int c : new int[] {16, 32}) {
      net.add(
              Conv2d.builder()
                  .setKernelShape(new Shape(3, 3))
                  .optPadding(new Shape(1, 1))
                  .setFilters(c)
                  .build())
          .add(BatchNorm.builder().optMomentum(0.9f).build())
          .add(Activation::relu)
          .add(Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)));
    }
    return net.add(Blocks.batchFlattenBlock()).add(Linear.builder().setUnits(10).build());
  }

  private static float[] ones(int n, float v) {
    float[] f = new float[n];
    java.util.Arrays.fill(f, v);
    return f;
  }

  @Test
  void throughputAgainstDjlBlocks() {
    Engine.getInstance().setRandomSeed(1);
    Device device = Boolean.getBoolean("graft.bench.gpu") ? Device.gpu() : Device.cpu();
    try (Model onnx = Model.newInstance("onnx", device);
        Model djl = Model.newInstance("djl", device)) {
      onnx.setBlock(new OnnxBlock(cnnGraph(), n -> true));
      djl.setBlock(djlBlocks());
      try (Trainer a = trainer(onnx);
          Trainer b = trainer(djl);
          NDManager data = NDManager.newBaseManager(device)) {
        NDArray x = data.randomNormal(new Shape(BATCH, 3, 32, 32));
        NDArray y =
            data.randomInteger(0, 10, new Shape(BATCH), ai.djl.ndarray.types.DataType.INT64)
                .toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
        run(a, x, y, 5);
        run(b, x, y, 5);
        double tOnnx = 0;
        double tDjl = 0;
        for (int round = 0; round < ROUNDS; round++) {
          tDjl += run(b, x, y, ITERS);
          tOnnx += run(a, x, y, ITERS);
        }
        double ratio = tDjl / tOnnx;
        System.out.printf(
            "BENCH device=%s batch=%d iters=%d onnx=%.1f img/s djl=%.1f img/s ratio=%.3f%n",
            device,
            BATCH,
            ROUNDS * ITERS,
            (double) ROUNDS * ITERS * BATCH / tOnnx,
            (double) ROUNDS * ITERS * BATCH / tDjl,
            ratio);
      }
    }
  }

  private static Trainer trainer(Model m) {
    Trainer t =
        m.newTrainer(
            new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optDevices(new Device[] {m.getNDManager().getDevice()})
                .optOptimizer(
                    Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.01f)).build()));
    t.initialize(new Shape(BATCH, 3, 32, 32));
    return t;
  }

  /** Seconds for {@code iters} forward+backward+step iterations. */
  private static double run(Trainer t, NDArray x, NDArray y, int iters) {
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
    return (System.nanoTime() - start) / 1e9;
  }
}
