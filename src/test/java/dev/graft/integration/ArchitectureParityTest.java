package dev.graft.integration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OrtException;
import dev.graft.model.Architecture;
import dev.graft.model.Architectures;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphSurgery;
import dev.graft.model.HeadSpec;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxExporter;
import dev.graft.onnx.OnnxImport;
import dev.graft.onnx.OnnxTensors;
import dev.graft.onnx.ParityGate;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every built-in architecture through the whole pipeline: build, graft a head, train with DJL,
 * export, and agree with ONNX Runtime on the exported file.
 */
class ArchitectureParityTest {

  private static final int CLASSES = 4;
  private static final int BATCH = 4;
  private static final long SEED = 42;

  @TempDir Path dir;

  static List<String> architectures() {
    return Architectures.names();
  }

  private static Shape batchShape(Architecture arch, int batch) {
    long[] dims = arch.input().dims();
    long[] shape = new long[dims.length + 1];
    shape[0] = batch;
    System.arraycopy(dims, 0, shape, 1, dims.length);
    return new Shape(shape);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("architectures")
  void backboneWithHiddenDropoutHeadTrainsExportsAndPassesParity(String name) throws OrtException {
    Engine.getInstance().setRandomSeed(1);
    Architecture arch = Architectures.get(name);
    HeadSpec head = new HeadSpec(List.of(16), HeadSpec.Activation.RELU, 0.25f, CLASSES);
    ModelProto graph = GraphSurgery.appendHead(arch.backbone(SEED), arch.featureTensor(), head, 7);
    runPipeline(name, graph, arch, "fine_tune", 3);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("architectures")
  void defaultClassifierTrainsExportsAndPassesParity(String name) throws OrtException {
    Engine.getInstance().setRandomSeed(2);
    Architecture arch = Architectures.get(name);
    runPipeline(name, arch.classifier(CLASSES, SEED), arch, "pretrain", 2);
  }

  private void runPipeline(
      String name, ModelProto graph, Architecture arch, String strategy, int steps)
      throws OrtException {
    OnnxBlock block = new OnnxBlock(graph, FreezeSpec.none().predicate(graph));
    Shape shape = batchShape(arch, BATCH);
    try (Model model = Model.newInstance(name)) {
      model.setBlock(block);
      try (Trainer trainer = model.newTrainer(Pipeline.trainerConfig(Pipeline.adam(1e-3f)))) {
        trainer.initialize(shape);
        float[] losses = Pipeline.train(trainer, shape, CLASSES, steps);
        Pipeline.assertFinite(losses);

        Path file = dir.resolve(name + ".onnx");
        Map<String, String> meta = Pipeline.provenance(name, strategy, CLASSES);
        ModelProto written = OnnxExporter.export(block, meta, file);
        Pipeline.assertValidExport(file, block, meta, written);
        assertEquals(1, written.getModelVersion());

        NDArray x = trainer.getManager().randomNormal(batchShape(arch, 3));
        ParityGate.Result parity =
            ParityGate.enforce(block, new NDList(x), file, ParityGate.DEFAULT_TOLERANCE);
        // Fresh deep nets have small logits (mobilenetv2-mini's differ by ~1e-4 between samples),
        // where 1e-4 alone would hide errors; demand agreement far below the signal too.
        float spread = spread(block, x);
        System.out.printf(
            "PARITY %s %s max_abs_diff=%.3g over %d values, logit spread %.3g%n",
            name, strategy, parity.maxAbsDiff(), parity.elements(), spread);
        assertTrue(parity.maxAbsDiff() <= 1e-4, "max abs diff " + parity.maxAbsDiff());
        assertEquals(3L * CLASSES, parity.elements());
        assertTrue(spread > 1e-5, "logits differ between samples by only " + spread);
        assertTrue(
            parity.maxAbsDiff() <= 1e-3 * spread,
            "max abs diff " + parity.maxAbsDiff() + " against a spread of " + spread);
      }
    }
  }

  /** Largest difference of a logit between the first sample and the others, in inference. */
  private static float spread(OnnxBlock block, NDArray x) {
    try (NDManager m = x.getManager().newSubManager()) {
      NDArray logits = block.forward(new ParameterStore(m, false), new NDList(x), false).head();
      return logits.sub(logits.get(0)).abs().max().getFloat();
    }
  }

  /**
   * The acceptance round trip on a network with BatchNorm: the exported initializers are bit for
   * bit the block's parameters after one step, and a block rebuilt from the file computes the very
   * same logits.
   */
  @Test
  void roundTripImportTrainOneStepExportImportKeepsInitializersIdentical() throws OrtException {
    Engine.getInstance().setRandomSeed(3);
    Architecture arch = Architectures.get("resnet-mini");
    ModelProto source = OnnxImport.load(arch.classifier(CLASSES, SEED).toByteArray());
    OnnxBlock block = new OnnxBlock(source, FreezeSpec.none().predicate(source));
    Shape shape = batchShape(arch, BATCH);
    try (Model model = Model.newInstance("roundtrip")) {
      model.setBlock(block);
      try (Trainer trainer = model.newTrainer(Pipeline.trainerConfig(Pipeline.sgd(0.05f)))) {
        trainer.initialize(shape);
        Pipeline.train(trainer, shape, CLASSES, 1);
        Path file = dir.resolve("roundtrip.onnx");
        Map<String, String> meta = Pipeline.provenance("resnet-mini", "full", CLASSES);
        OnnxExporter.export(block, meta, file);
        ModelProto back = OnnxImport.load(file);

        assertEquals(
            source.getGraph().getInitializerCount(), back.getGraph().getInitializerCount());
        Map<String, int[]> before = Pipeline.floatBits(source);
        int moved = 0;
        for (TensorProto t : back.getGraph().getInitializerList()) {
          var p = block.parameter(t.getName());
          assertNotNull(p, "every float initializer of resnet-mini is a parameter: " + t.getName());
          int[] exported = Pipeline.bits(OnnxTensors.floats(t));
          assertArrayEquals(
              Pipeline.bits(p.getArray().toFloatArray()),
              exported,
              t.getName() + " is exported bit for bit");
          moved += java.util.Arrays.equals(before.get(t.getName()), exported) ? 0 : 1;
        }
        assertTrue(
            moved > back.getGraph().getInitializerCount() / 2,
            "one step moved most tensors, " + moved);

        // A block rebuilt from the exported file is the trained block.
        OnnxBlock reloaded = new OnnxBlock(back, n -> false);
        try (NDManager m = trainer.getManager().newSubManager()) {
          reloaded.initialize(m, ai.djl.ndarray.types.DataType.FLOAT32, shape);
          NDArray x = m.randomNormal(shape);
          float[] trained =
              block
                  .forward(new ParameterStore(m, false), new NDList(x), false)
                  .head()
                  .toFloatArray();
          float[] rebuilt =
              reloaded
                  .forward(new ParameterStore(m, false), new NDList(x), false)
                  .head()
                  .toFloatArray();
          assertArrayEquals(Pipeline.bits(trained), Pipeline.bits(rebuilt));
          assertNotEquals(0f, trained[0]);
        }
      }
    }
  }
}
