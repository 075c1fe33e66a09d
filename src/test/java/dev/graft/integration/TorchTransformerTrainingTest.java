package dev.graft.integration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.Trainer;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphSurgery;
import dev.graft.model.HeadSpec;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxExporter;
import dev.graft.onnx.OnnxImport;
import dev.graft.onnx.ParityGate;
import dev.graft.support.TorchExports;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PyTorch's torch.nn.TransformerEncoderLayer, exported with BatchNorm kept: its LayerNorm is
 * decomposed up to opset 16 and one LayerNormalization node at 17, its LayerNorm affine terms were
 * routed from the BatchNorm's by Identity nodes. Imported, given a head and fine-tuned whole, every
 * LayerNorm parameter trains on its own, and the export passes the parity gate.
 */
class TorchTransformerTrainingTest {

  private static final int CLASSES = 3;

  @TempDir Path dir;

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"transformer-kept-opset11.onnx", "transformer-kept-opset17.onnx"})
  void transformerBlockFineTunesEveryLayerNormOnItsOwnAndExportsWithParity(String file)
      throws Exception {
    TorchExports.Export export = TorchExports.get(file);
    Engine.getInstance().setRandomSeed(4);
    ModelProto imported = OnnxImport.load(export.bytes());
    assertEquals(
        file.endsWith("17.onnx") ? 2 : 0,
        imported.getGraph().getNodeList().stream()
            .map(NodeProto::getOpType)
            .filter("LayerNormalization"::equals)
            .count());
    ModelProto graph =
        GraphSurgery.appendHead(
            imported,
            export.featureTensor(),
            new HeadSpec(List.of(), HeadSpec.Activation.RELU, 0f, CLASSES),
            8);
    OnnxBlock block = new OnnxBlock(graph, FreezeSpec.none().predicate(graph));
    Shape batch = new Shape(8, 4, 8);
    List<String> norms =
        List.of(
            "encoder.norm1.weight",
            "encoder.norm1.bias",
            "encoder.norm2.weight",
            "encoder.norm2.bias",
            "bn.weight",
            "bn.bias");
    Map<String, int[]> before = Pipeline.floatBits(imported);
    for (String n : norms) {
      assertTrue(before.containsKey(n), n + " is an initializer of its own");
    }
    try (Model model = Model.newInstance("transformer")) {
      model.setBlock(block);
      try (Trainer trainer = model.newTrainer(Pipeline.trainerConfig(Pipeline.adam(1e-2f)))) {
        trainer.initialize(batch);
        float[] losses = Pipeline.train(trainer, batch, CLASSES, 6);
        Pipeline.assertFinite(losses);

        Path out = dir.resolve("transformer.onnx");
        Map<String, String> meta = Pipeline.provenance("transformer", "none", CLASSES);
        ModelProto written = OnnxExporter.export(block, meta, out);
        Pipeline.assertValidExport(out, block, meta, written);
        Map<String, int[]> after = Pipeline.floatBits(written);
        for (String n : norms) {
          assertFalse(Arrays.equals(before.get(n), after.get(n)), n + " trains");
        }
        assertFalse(
            Arrays.equals(after.get("encoder.norm1.bias"), after.get("encoder.norm2.bias")),
            "the LayerNorm biases PyTorch de-duplicated train apart");

        NDArray x = trainer.getManager().randomNormal(new Shape(5, 4, 8));
        ParityGate.Result parity =
            ParityGate.enforce(block, new NDList(x), out, ParityGate.DEFAULT_TOLERANCE);
        assertEquals(5L * CLASSES, parity.elements());
        assertTrue(parity.maxAbsDiff() <= 1e-4, "max abs diff " + parity.maxAbsDiff());
      }
    }
    assertArrayEquals(new long[] {4, 8}, export.input());
  }
}
