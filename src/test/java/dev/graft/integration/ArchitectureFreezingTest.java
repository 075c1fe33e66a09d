package dev.graft.integration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.Trainer;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.model.Architecture;
import dev.graft.model.Architectures;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphParameters;
import dev.graft.model.GraphParameters.Role;
import dev.graft.model.GraphSurgery;
import dev.graft.model.HeadSpec;
import dev.graft.model.ParameterCounts;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxExporter;
import dev.graft.onnx.OnnxImport;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Freezing on the built-in networks with BatchNorm, judged on the exported file: what a spec
 * freezes (weights and running statistics alike) leaves the file bit for bit as built, and what it
 * trains has moved.
 */
class ArchitectureFreezingTest {

  private static final int CLASSES = 3;
  private static final int STEPS = 4;
  private static final Shape BATCH = new Shape(4, 1, 28, 28);

  @TempDir Path dir;

  static Stream<Arguments> cases() {
    return Stream.of("cnn-small", "resnet-mini")
        .flatMap(a -> Stream.of("backbone", "lastBlocks1", "none").map(s -> Arguments.of(a, s)));
  }

  private static FreezeSpec spec(String name) {
    switch (name) {
      case "backbone":
        return FreezeSpec.backbone();
      case "lastBlocks1":
        return FreezeSpec.lastBlocks(1);
      case "none":
        return FreezeSpec.none();
      default:
        throw new IllegalArgumentException(name);
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void frozenTensorsStayBitIdenticalInTheExportAndTrainedOnesMove(String archName, String specName)
      throws Exception {
    Engine.getInstance().setRandomSeed(5);
    Architecture arch = Architectures.get(archName);
    HeadSpec head = new HeadSpec(List.of(8), HeadSpec.Activation.RELU, 0.1f, CLASSES);
    ModelProto graph = GraphSurgery.appendHead(arch.backbone(11), arch.featureTensor(), head, 13);
    FreezeSpec freeze = spec(specName);
    GraphParameters params = GraphParameters.of(graph);
    Set<String> trainable = freeze.trainable(graph);
    Set<String> moving = expectedToMove(params, specName);

    OnnxBlock block = new OnnxBlock(graph, freeze.predicate(graph));
    ParameterCounts counts = freeze.counts(graph);
    System.out.printf(
        "FREEZE %s %s trainable=%d total=%d blocks=%s%n",
        archName, specName, counts.trainable(), counts.total(), params.blocks());
    assertEquals(counts.trainable(), block.trainableParameterCount());
    assertEquals(counts.total(), block.totalParameterCount());

    try (Model model = Model.newInstance(archName)) {
      model.setBlock(block);
      try (Trainer trainer = model.newTrainer(Pipeline.trainerConfig(Pipeline.sgd(0.1f)))) {
        trainer.initialize(BATCH);
        Pipeline.assertFinite(Pipeline.train(trainer, BATCH, CLASSES, STEPS));
        Path file = dir.resolve(archName + "-" + specName + ".onnx");
        Map<String, String> meta = Pipeline.provenance(archName, specName, CLASSES);
        OnnxExporter.export(block, meta, file);

        Map<String, int[]> before = Pipeline.floatBits(graph);
        Map<String, int[]> after = Pipeline.floatBits(OnnxImport.load(file));
        assertEquals(before.keySet(), after.keySet(), "export keeps every float initializer");
        int statistics = 0;
        for (GraphParameters.Parameter p : params.all()) {
          int[] b = before.get(p.name());
          int[] a = after.get(p.name());
          if (moving.contains(p.name())) {
            assertFalse(Arrays.equals(b, a), p.name() + " (" + p.role() + ") trains");
          } else {
            assertArrayEquals(b, a, p.name() + " (" + p.role() + ") is frozen bit for bit");
            statistics += p.role() == Role.STATISTIC ? 1 : 0;
          }
          if (p.role() == Role.WEIGHT) {
            assertEquals(
                trainable.contains(p.name()), block.parameter(p.name()).requiresGradient());
          }
        }
        if (!specName.equals("none")) {
          assertTrue(statistics >= 4, "frozen BatchNorm statistics were checked: " + statistics);
        }
      }
    }
  }

  /**
   * Weights and BatchNorm statistics that training must change: the head always; the last block too
   * for lastBlocks(1); the whole network for none(). Constants (Dropout ratio) never move.
   */
  private static Set<String> expectedToMove(GraphParameters params, String specName) {
    List<String> blocks = params.blocks();
    Set<String> open = new HashSet<>();
    open.add(GraphParameters.HEAD_BLOCK);
    if (specName.equals("lastBlocks1")) {
      open.add(blocks.get(blocks.size() - 1));
    } else if (specName.equals("none")) {
      open.addAll(blocks);
    }
    Set<String> names = new HashSet<>();
    for (GraphParameters.Parameter p : params.all()) {
      if (p.role() != Role.CONSTANT && open.contains(p.block())) {
        names.add(p.name());
      }
    }
    return names;
  }
}
