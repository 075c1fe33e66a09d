package dev.graft.integration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphChecks;
import dev.graft.model.GraphParameters;
import dev.graft.model.GraphSurgery;
import dev.graft.model.HeadSpec;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxExporter;
import dev.graft.onnx.OnnxImport;
import dev.graft.onnx.ParityGate;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A PyTorch-exported opset-11 classifier, bytes in, new classifier out, without Python: import, cut
 * at a named tensor, graft a head, fine-tune its last block, export at opset 17, parity.
 */
class ExternalImportTest {

  private static final int CLASSES = 3;
  private static final Shape BATCH = new Shape(4, 1, 8, 8);

  @TempDir Path dir;

  static Stream<Arguments> cuts() {
    return Stream.of(
        // The flattened features: the shape subgraph stays in the backbone and must keep working.
        Arguments.of(TorchExportedClassifier.FLATTENED, new long[] {256}, false),
        Arguments.of(TorchExportedClassifier.FLATTENED, new long[] {256}, true),
        // The last feature map: the head pools it.
        Arguments.of(TorchExportedClassifier.LAST_FEATURE_MAP, new long[] {16, 4, 4}, true));
  }

  @ParameterizedTest(name = "cut at {0}, initializers as inputs {2}")
  @MethodSource("cuts")
  void torchExportIsCutGivenANewHeadTrainedAndExportedAtOpset17(
      String cutAt, long[] featureShape, boolean initializersAsInputs) throws Exception {
    Engine.getInstance().setRandomSeed(9);
    ModelProto exported = TorchExportedClassifier.build(3, initializersAsInputs);
    ModelProto imported = OnnxImport.load(exported.toByteArray());
    assertEquals(17, OnnxImport.defaultOpset(imported));
    assertImportComputesWhatOrtComputesOnTheOriginal(exported, imported);

    assertArrayEquals(featureShape, GraphSurgery.featureShape(imported, cutAt));
    ModelProto cut = GraphSurgery.cut(imported, cutAt);
    assertEquals(List.of(), GraphChecks.problems(cut));
    assertEquals(
        List.of(cutAt),
        cut.getGraph().getOutputList().stream().map(ValueInfoProto::getName).toList());
    assertTrue(
        cut.getGraph().getInitializerList().stream()
            .noneMatch(t -> t.getName().startsWith("classifier.")),
        "the old classifier is cut away");

    HeadSpec head = new HeadSpec(List.of(16), HeadSpec.Activation.RELU, 0.2f, CLASSES);
    ModelProto graph = GraphSurgery.appendHead(imported, cutAt, head, 21);
    GraphParameters params = GraphParameters.of(graph);
    assertEquals(List.of("features.0", "features.3"), params.blocks());
    FreezeSpec freeze = FreezeSpec.lastBlocks(1);
    Set<String> trainable = freeze.trainable(graph);
    assertEquals(
        Set.of("onnx::Conv_7", "onnx::Conv_8"),
        trainable.stream().filter(n -> !GraphSurgery.isHead(n)).collect(Collectors.toSet()),
        "the folded conv is the last block by its node scope");

    OnnxBlock block = new OnnxBlock(graph, freeze.predicate(graph));
    try (Model model = Model.newInstance("torch")) {
      model.setBlock(block);
      try (Trainer trainer = model.newTrainer(Pipeline.trainerConfig(Pipeline.adam(1e-2f)))) {
        trainer.initialize(BATCH);
        float[] losses = Pipeline.train(trainer, BATCH, CLASSES, 4);
        Pipeline.assertFinite(losses);

        Path file = dir.resolve("torch-finetuned.onnx");
        Map<String, String> meta = Pipeline.provenance("torch-cnn", "last_blocks_1", CLASSES);
        ModelProto written = OnnxExporter.export(block, meta, file);
        Pipeline.assertValidExport(file, block, meta, written);
        for (NodeProto n : written.getGraph().getNodeList()) {
          if (n.getOpType().equals("Unsqueeze")) {
            assertEquals(2, n.getInputCount(), "opset-17 Unsqueeze takes axes as an input");
            assertTrue(n.getAttributeList().isEmpty(), "no opset-11 axes attribute left");
          }
        }

        Map<String, int[]> before = Pipeline.floatBits(imported);
        Map<String, int[]> after = Pipeline.floatBits(written);
        for (String frozen : List.of("features.0.weight", "features.0.bias")) {
          assertArrayEquals(before.get(frozen), after.get(frozen), frozen + " is frozen");
        }
        for (String trained : List.of("onnx::Conv_7", "onnx::Conv_8")) {
          assertFalse(Arrays.equals(before.get(trained), after.get(trained)), trained + " trains");
        }
        assertTrue(
            written.getGraph().getInitializerList().stream()
                .map(TensorProto::getName)
                .noneMatch(n -> n.startsWith("classifier.")));

        NDArray x = trainer.getManager().randomNormal(new Shape(5, 1, 8, 8));
        ParityGate.Result parity =
            ParityGate.enforce(block, new NDList(x), file, ParityGate.DEFAULT_TOLERANCE);
        System.out.printf(
            "PARITY torch-opset11 cut=%s max_abs_diff=%.3g over %d values%n",
            cutAt, parity.maxAbsDiff(), parity.elements());
        assertTrue(parity.maxAbsDiff() <= 1e-4, "max abs diff " + parity.maxAbsDiff());
        assertEquals(5L * CLASSES, parity.elements());
      }
    }
  }

  /** The opset-11 file is valid for ONNX Runtime, and the imported graph computes the same. */
  private static void assertImportComputesWhatOrtComputesOnTheOriginal(
      ModelProto original, ModelProto imported) throws OrtException {
    float[] input = new float[3 * 64];
    for (int i = 0; i < input.length; i++) {
      input[i] = (float) Math.sin(i * 0.37) * 2;
    }
    long[] shape = {3, 1, 8, 8};
    float[] expected;
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(original.toByteArray(), options);
        OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(input), shape);
        OrtSession.Result result = session.run(Map.of(TorchExportedClassifier.INPUT, x))) {
      OnnxTensor y = (OnnxTensor) result.get(0);
      assertArrayEquals(new long[] {3, 10}, y.getInfo().getShape());
      FloatBuffer b = y.getFloatBuffer();
      expected = new float[b.remaining()];
      b.get(expected);
    }
    OnnxBlock block = new OnnxBlock(imported, n -> false);
    try (NDManager m = NDManager.newBaseManager()) {
      block.initialize(m, DataType.FLOAT32, new Shape(shape));
      NDArray x = m.create(input, new Shape(shape));
      float[] actual =
          block.forward(new ParameterStore(m, false), new NDList(x), false).head().toFloatArray();
      assertArrayEquals(expected, actual, 1e-5f);
    }
  }
}
