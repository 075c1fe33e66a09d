package dev.graft.onnx;

import static dev.graft.onnx.TestGraphs.FLOAT;
import static dev.graft.onnx.TestGraphs.attr;
import static dev.graft.onnx.TestGraphs.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.core.GraftException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The block as a whole: training, freezing, export round trip and the parity gate. */
class OnnxBlockTrainingTest {

  private static final int CLASSES = 3;

  @TempDir Path dir;

  /**
   * Trains {@code steps} SGD steps on seeded random data and returns nothing: state is in block.
   */
  private static void train(Trainer trainer, int steps) {
    NDManager m = trainer.getManager();
    for (int i = 0; i < steps; i++) {
      try (NDManager batch = m.newSubManager()) {
        NDArray x = batch.randomNormal(new Shape(6, 2, 8, 8));
        NDArray y = batch.create(new float[] {0, 1, 2, 0, 1, 2});
        try (GradientCollector gc = trainer.newGradientCollector()) {
          NDList pred = trainer.forward(new NDList(x));
          NDArray loss = trainer.getLoss().evaluate(new NDList(y), pred);
          gc.backward(loss);
        }
        trainer.step();
      }
    }
  }

  private static Trainer trainer(Model model) {
    DefaultTrainingConfig cfg =
        new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
            .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.1f)).build());
    Trainer t = model.newTrainer(cfg);
    t.initialize(new Shape(6, 2, 8, 8));
    return t;
  }

  private static Map<String, float[]> snapshot(OnnxBlock block) {
    Map<String, float[]> out = new HashMap<>();
    for (var p : block.getParameters().values()) {
      out.put(p.getName(), p.getArray().toFloatArray());
    }
    return out;
  }

  private static Map<String, String> provenance() {
    return Map.of(
        "run_id",
        "run-1",
        "base_model",
        "convnet",
        "strategy",
        "transfer",
        "labels",
        "a,b,c",
        "model_version",
        "3");
  }

  @Test
  void roundTripImportTrainExportImportKeepsTrainedValues() {
    Engine.getInstance().setRandomSeed(7);
    ModelProto source = OnnxImport.load(TestGraphs.convNet(1, CLASSES).toByteArray());
    OnnxBlock block = new OnnxBlock(source, n -> true);
    try (Model model = Model.newInstance("roundtrip")) {
      model.setBlock(block);
      try (Trainer trainer = trainer(model)) {
        train(trainer, 1);
        Path file = dir.resolve("trained.onnx");
        OnnxExporter.export(block, provenance(), file);

        ModelProto back = OnnxImport.load(file);
        assertEquals(17, OnnxImport.defaultOpset(back));
        assertEquals("graft", back.getProducerName());
        assertEquals(3, back.getModelVersion());
        Map<String, String> meta = new HashMap<>();
        for (StringStringEntryProto e : back.getMetadataPropsList()) {
          meta.put(e.getKey(), e.getValue());
        }
        assertEquals(provenance(), meta);
        int changed = 0;
        for (TensorProto t : back.getGraph().getInitializerList()) {
          float[] exported = OnnxTensors.floats(t);
          float[] trained = block.parameter(t.getName()).getArray().toFloatArray();
          assertArrayEquals(trained, exported, "initializer " + t.getName());
          TensorProto before =
              source.getGraph().getInitializerList().stream()
                  .filter(x -> x.getName().equals(t.getName()))
                  .findFirst()
                  .orElseThrow();
          changed += java.util.Arrays.equals(OnnxTensors.floats(before), exported) ? 0 : 1;
        }
        assertEquals(8, changed, "every weight and running statistic moved after one step");

        ParityGate.Result parity =
            ParityGate.check(
                block,
                new NDList(trainer.getManager().randomNormal(new Shape(5, 2, 8, 8))),
                file,
                ParityGate.DEFAULT_TOLERANCE);
        assertTrue(parity.passed(), "max abs diff " + parity.maxAbsDiff());
        assertTrue(parity.maxAbsDiff() <= 1e-4);
      }
    }
  }

  @Test
  void frozenWeightsAndBatchNormStatisticsStayBitIdentical() {
    Engine.getInstance().setRandomSeed(11);
    Predicate<String> headOnly = n -> n.startsWith("fc.");
    OnnxBlock block = new OnnxBlock(TestGraphs.convNet(2, CLASSES), headOnly);
    assertEquals(CLASSES * 64 + CLASSES, block.trainableParameterCount());
    assertEquals(72 + 4 + 4 + 4 + CLASSES * 64 + CLASSES, block.totalParameterCount());
    try (Model model = Model.newInstance("freeze")) {
      model.setBlock(block);
      try (Trainer trainer = trainer(model)) {
        Map<String, float[]> before = snapshot(block);
        train(trainer, 4);
        Map<String, float[]> after = snapshot(block);
        for (String name : before.keySet()) {
          int[] b = bits(before.get(name));
          int[] a = bits(after.get(name));
          if (headOnly.test(name)) {
            assertFalse(java.util.Arrays.equals(b, a), name + " trains");
          } else {
            assertArrayEquals(b, a, name + " is frozen bit for bit");
          }
        }
        assertFalse(block.parameter("conv.weight").requiresGradient());
        assertFalse(block.parameter("bn.running_mean").requiresGradient());
      }
    }
  }

  @Test
  void batchNormInTrainingUsesBatchStatisticsAndUpdatesRunningStatsLikePyTorch() {
    TestGraphs g = new TestGraphs(3);
    g.input("x", FLOAT, -1, 2, 3, 3).output("y", FLOAT);
    g.init("s", new long[] {2}, new float[] {1f, 1f});
    g.init("b", new long[] {2}, new float[] {0f, 0f});
    g.init("m", new long[] {2}, new float[] {0.5f, -0.5f});
    g.init("v", new long[] {2}, new float[] {2f, 3f});
    g.node("BatchNormalization", "bn", s("x", "s", "b", "m", "v"), s("y"), attr("momentum", 0.8f));
    OnnxBlock block = new OnnxBlock(g.build(), n -> true);
    try (NDManager m = NDManager.newBaseManager()) {
      block.initialize(m, DataType.FLOAT32, new Shape(4, 2, 3, 3));
      NDArray x = m.randomNormal(new Shape(4, 2, 3, 3)).mul(2).add(1);
      NDArray y = block.forward(new ParameterStore(m, false), new NDList(x), true).head();
      // Batch statistics: each channel of y has mean 0 and (biased) variance 1.
      NDArray perChannel = y.transpose(1, 0, 2, 3).reshape(2, -1);
      assertTrue(perChannel.mean(new int[] {1}).abs().max().getFloat() < 1e-5);
      NDArray xc = x.transpose(1, 0, 2, 3).reshape(2, -1);
      float[] batchMean = xc.mean(new int[] {1}).toFloatArray();
      NDArray centered = xc.sub(xc.mean(new int[] {1}, true));
      float[] unbiased =
          centered.pow(2).sum(new int[] {1}).div(xc.getShape().get(1) - 1).toFloatArray();
      float[] mean = block.parameter("m").getArray().toFloatArray();
      float[] var = block.parameter("v").getArray().toFloatArray();
      float[] m0 = {0.5f, -0.5f};
      float[] v0 = {2f, 3f};
      for (int c = 0; c < 2; c++) {
        assertEquals(0.8f * m0[c] + 0.2f * batchMean[c], mean[c], 1e-5);
        assertEquals(0.8f * v0[c] + 0.2f * unbiased[c], var[c], 1e-4);
      }
      // Inference uses the running statistics.
      NDArray yi = block.forward(new ParameterStore(m, false), new NDList(x), false).head();
      NDArray expected =
          x.sub(m.create(mean).reshape(1, 2, 1, 1))
              .div(m.create(var).reshape(1, 2, 1, 1).add(1e-5f).sqrt());
      assertTrue(yi.sub(expected).abs().max().getFloat() < 1e-5);
    }
  }

  @Test
  void shapeSubgraphFollowsTheBatchSize() {
    TestGraphs g = new TestGraphs(4);
    g.input("x", FLOAT, -1, 2, 3).output("y", FLOAT);
    g.initLongs("zero", new long[0], 0).initLongs("ax0", new long[] {1}, 0);
    g.initLongs("minus1", new long[] {1}, -1);
    g.node("Shape", "shape", s("x"), s("s"));
    g.node("Gather", "gather", s("s", "zero"), s("n"), attr("axis", 0L));
    g.node("Unsqueeze", "unsq", s("n", "ax0"), s("n1"));
    g.node("Concat", "cat", s("n1", "minus1"), s("target"), attr("axis", 0L));
    g.node("Reshape", "reshape", s("x", "target"), s("y"));
    OnnxBlock block = new OnnxBlock(g.build(), n -> true);
    assertEquals(0, block.getParameters().size(), "integer initializers are constants");
    try (NDManager m = NDManager.newBaseManager()) {
      block.initialize(m, DataType.FLOAT32, new Shape(1, 2, 3));
      for (int batch : new int[] {1, 4, 7}) {
        NDArray y =
            block
                .forward(
                    new ParameterStore(m, false), new NDList(m.ones(new Shape(batch, 2, 3))), false)
                .head();
        assertEquals(new Shape(batch, 6), y.getShape());
        assertEquals(
            new Shape(batch, 6), block.getOutputShapes(new Shape[] {new Shape(batch, 2, 3)})[0]);
      }
    }
  }

  @Test
  void parityGateFailsWhenAWeightInTheFileIsCorrupted() throws Exception {
    OnnxBlock block = new OnnxBlock(TestGraphs.convNet(5, CLASSES), n -> true);
    try (NDManager m = NDManager.newBaseManager()) {
      block.initialize(m, DataType.FLOAT32, new Shape(2, 2, 8, 8));
      Path good = dir.resolve("good.onnx");
      ModelProto exported = OnnxExporter.export(block, Map.of("run_id", "r"), good);
      NDList batch = new NDList(m.randomNormal(new Shape(4, 2, 8, 8)));
      ParityGate.Result ok = ParityGate.enforce(block, batch, good, 1e-4);
      assertTrue(ok.passed());
      assertTrue(ok.elements() == 4 * CLASSES);

      var gb = exported.getGraph().toBuilder();
      for (int i = 0; i < gb.getInitializerCount(); i++) {
        if (gb.getInitializer(i).getName().equals("fc.weight")) {
          float[] w = OnnxTensors.floats(gb.getInitializer(i));
          w[0] += 0.5f;
          gb.setInitializer(i, OnnxTensors.withFloats(gb.getInitializer(i), w));
        }
      }
      Path bad = dir.resolve("bad.onnx");
      OnnxImport.write(exported.toBuilder().setGraph(gb).build(), bad);
      ParityGate.Result r = ParityGate.check(block, batch, bad, 1e-4);
      assertFalse(r.passed());
      assertTrue(r.maxAbsDiff() > 1e-4);
      assertEquals("logits", r.worstOutput());
      GraftException.FailedPrecondition e =
          assertThrows(
              GraftException.FailedPrecondition.class,
              () -> ParityGate.enforce(block, batch, bad, 1e-4));
      assertTrue(e.getMessage().contains("logits"), e.getMessage());
    }
  }

  @Test
  void exportDropsDanglingNodesAndInputs() {
    TestGraphs g = new TestGraphs(6);
    g.input("x", FLOAT, -1, 4).input("unused", FLOAT, -1, 4).output("y", FLOAT);
    g.initRandom("w", 4, 4).initRandom("dead.w", 4, 4);
    g.node("MatMul", "mm", s("x", "w"), s("y"));
    g.node("MatMul", "dead", s("unused", "dead.w"), s("z"));
    OnnxBlock block = new OnnxBlock(g.build(), n -> true);
    assertEquals(java.util.List.of("x", "unused"), block.inputNames());
    assertEquals(16, block.totalParameterCount(), "dead branch has no parameters");
    ModelProto out = OnnxExporter.toExportModel(block, Map.of());
    assertEquals(1, out.getGraph().getNodeCount());
    assertEquals(1, out.getGraph().getInputCount());
    assertEquals(1, out.getGraph().getInitializerCount());
  }

  private static float[] dropoutForward(long seed, int engineSeed) {
    TestGraphs g = new TestGraphs(3);
    g.input("x", FLOAT, -1, 1000).output("y", FLOAT);
    g.node("Dropout", "drop", s("x"), s("y"), attr("ratio", 0.5f));
    OnnxBlock block = new OnnxBlock(g.build(), n -> true);
    try (NDManager m = NDManager.newBaseManager()) {
      block.initialize(m, DataType.FLOAT32, new Shape(2, 1000));
      block.seedDropout(seed);
      Engine.getInstance().setRandomSeed(engineSeed); // must not matter
      NDArray x = m.ones(new Shape(2, 1000));
      return block
          .forward(new ParameterStore(m, false), new NDList(x), true)
          .singletonOrThrow()
          .toFloatArray();
    }
  }

  @Test
  void dropoutDrawsFromTheBlocksSeedNotTheEnginesGenerator() {
    float[] a = dropoutForward(7, 1);
    assertArrayEquals(a, dropoutForward(7, 2), 0f);
    assertFalse(java.util.Arrays.equals(a, dropoutForward(8, 1)));
    int kept = 0;
    for (float v : a) {
      assertTrue(v == 0f || v == 2f, "inverted dropout keeps x / (1 - ratio): " + v);
      kept += v == 2f ? 1 : 0;
    }
    assertTrue(kept > 900 && kept < 1100, "kept " + kept + " of 2000 at ratio 0.5");
  }

  @Test
  void pytorchStyleOpsetElevenGraphTrainsAndExportsAtSeventeenWithParity() {
    Engine.getInstance().setRandomSeed(5);
    TestGraphs g = new TestGraphs(9).opset(11);
    g.input("input", FLOAT, -1, 2, 8, 8).output("logits", FLOAT);
    g.initRandom("features.0.weight", 4, 2, 3, 3);
    g.init("features.1.weight", new long[] {4}, new float[] {1f, 1f, 1f, 1f});
    g.init("features.1.bias", new long[] {4}, new float[4]);
    g.init("features.1.running_mean", new long[] {4}, new float[4]);
    g.init("features.1.running_var", new long[] {4}, new float[] {1f, 1f, 1f, 1f});
    g.initRandom("classifier.weight", CLASSES, 4);
    g.initRandom("classifier.bias", CLASSES);
    g.init("six", new long[0], new float[] {6f});
    g.init("zero_f", new long[0], new float[] {0f});
    g.node(
        "Conv",
        "Conv_0",
        s("input", "features.0.weight"),
        s("c"),
        TestGraphs.ints("pads", 1, 1, 1, 1));
    g.node(
        "BatchNormalization",
        "BatchNormalization_1",
        s(
            "c",
            "features.1.weight",
            "features.1.bias",
            "features.1.running_mean",
            "features.1.running_var"),
        s("b"));
    g.node("Clip", "Clip_2", s("b", "zero_f", "six"), s("r"));
    g.node("GlobalAveragePool", "GlobalAveragePool_3", s("r"), s("gap"));
    g.node("Shape", "Shape_4", s("gap"), s("shp"));
    g.node(
        "Constant",
        "Constant_5",
        s(),
        s("idx"),
        TestGraphs.tensorAttr("value", OnnxTensors.longTensor("idx", new long[0], new long[] {0})));
    g.node("Gather", "Gather_6", s("shp", "idx"), s("n"), attr("axis", 0L));
    g.node("Unsqueeze", "Unsqueeze_7", s("n"), s("n1"), TestGraphs.ints("axes", 0));
    g.node("Constant", "Constant_8", s(), s("m1"), TestGraphs.ints("value_ints", -1));
    g.node("Concat", "Concat_9", s("n1", "m1"), s("target"), attr("axis", 0L));
    g.node("Reshape", "Reshape_10", s("gap", "target"), s("flat"));
    g.node("Dropout", "Dropout_11", s("flat"), s("d"), attr("ratio", 0.2f));
    g.node(
        "Gemm",
        "Gemm_12",
        s("d", "classifier.weight", "classifier.bias"),
        s("logits"),
        attr("transB", 1L));
    OnnxBlock block = new OnnxBlock(OnnxImport.load(g.build().toByteArray()), n -> true);
    assertEquals(java.util.List.of("input"), block.inputNames());
    assertEquals(
        72 + 8 + CLASSES * 4 + CLASSES, block.totalParameterCount(), "clip bounds are constants");
    try (Model model = Model.newInstance("pt")) {
      model.setBlock(block);
      try (Trainer trainer = trainer(model)) {
        train(trainer, 2);
        Path file = dir.resolve("pt.onnx");
        ModelProto out = OnnxExporter.export(block, Map.of(), file);
        assertEquals(17, OnnxImport.defaultOpset(out));
        ParityGate.Result r =
            ParityGate.enforce(
                block,
                new NDList(trainer.getManager().randomNormal(new Shape(3, 2, 8, 8))),
                file,
                ParityGate.DEFAULT_TOLERANCE);
        assertTrue(r.maxAbsDiff() <= 1e-4, "max abs diff " + r.maxAbsDiff());
      }
    }
  }

  @Test
  void resultsOfOpsOnParametersAreFreedWithTheBatch() throws Exception {
    TestGraphs g = new TestGraphs(12);
    g.input("ids", TestGraphs.INT64, -1, 3).output("y", FLOAT);
    g.initRandom("emb", 10, 4).initRandom("proj", 5, 3);
    g.node("Gather", "embed", s("emb", "ids"), s("e"));
    g.node("MatMul", "mix", s("proj", "e"), s("m"));
    g.node(
        "ReduceMean", "pool", s("m"), s("y"), TestGraphs.ints("axes", 1, 2), attr("keepdims", 0L));
    OnnxBlock block = new OnnxBlock(g.build(), n -> true);
    try (Model model = Model.newInstance("leak")) {
      model.setBlock(block);
      DefaultTrainingConfig cfg =
          new DefaultTrainingConfig(Loss.l2Loss())
              .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.1f)).build());
      try (Trainer trainer = model.newTrainer(cfg)) {
        trainer.initialize(new Shape(2, 3));
        int before = -1;
        for (int step = 0; step < 6; step++) {
          try (NDManager batch = trainer.getManager().newSubManager()) {
            NDArray ids = batch.create(new long[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
            try (GradientCollector gc = trainer.newGradientCollector()) {
              NDList pred = trainer.forward(new NDList(ids));
              gc.backward(trainer.getLoss().evaluate(new NDList(batch.zeros(new Shape(2))), pred));
            }
            trainer.step();
          }
          if (step == 0) {
            before = resources(model.getNDManager());
          }
        }
        assertEquals(before, resources(model.getNDManager()), "no arrays left in the model");
      }
    }
  }

  private static int resources(NDManager m) throws Exception {
    java.lang.reflect.Field f = ai.djl.ndarray.BaseNDManager.class.getDeclaredField("resources");
    f.setAccessible(true);
    return ((Map<?, ?>) f.get(m)).size();
  }

  private static int[] bits(float[] f) {
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToRawIntBits(f[i]);
    }
    return b;
  }
}
