package dev.graft.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.graft.core.GraftException;
import java.util.List;
import org.junit.jupiter.api.Test;

class GraphChecksTest {

  @Test
  void builtInsAndSurgeryResultsAreWellFormed() {
    for (String name : Architectures.names()) {
      Architecture arch = Architectures.get(name);
      assertEquals(List.of(), GraphChecks.problems(arch.backbone(0)), name);
      ModelProto classifier = arch.classifier(10, 0);
      assertEquals(List.of(), GraphChecks.problems(classifier), name);
      ModelProto regrafted =
          GraphSurgery.appendHead(
              classifier,
              arch.featureTensor(),
              new HeadSpec(List.of(8), HeadSpec.Activation.RELU, 0.2f, 3),
              1);
      assertEquals(List.of(), GraphChecks.problems(regrafted), name);
    }
    ModelProto imported =
        GraphSurgery.appendHead(
            PyTorchStyleGraph.build(0), PyTorchStyleGraph.FLATTENED, HeadSpec.linear(2), 0);
    assertEquals(List.of(), GraphChecks.problems(imported));
    assertEquals(
        List.of(),
        GraphChecks.problems(GraphSurgery.cut(PyTorchStyleGraph.build(0), "/relu/Relu")));
  }

  @Test
  void reportsDanglingAndUnusedTensors() {
    GraphBuilder g = new GraphBuilder("broken", 0);
    String x = g.input("input", 4);
    g.input("unused", 4);
    g.scalar("orphan", 1f);
    g.relu("dead", x);
    String y = g.relu("live", x);
    ModelProto ok = g.output(y, 4).build();
    ModelProto broken =
        ok.toBuilder()
            .setGraph(
                ok.getGraph().toBuilder()
                    .addNode(
                        NodeProto.newBuilder()
                            .setName("late")
                            .setOpType("Relu")
                            .addInput("missing")
                            .addOutput("late")))
            .build();
    List<String> problems = GraphChecks.problems(broken);
    assertEquals(
        List.of(
            "node late reads missing before anything produces it",
            "initializer orphan is used by no node",
            "graph input unused is used by no node",
            "the outputs of node dead are used by nothing",
            "the outputs of node late are used by nothing"),
        problems);
    GraftException.InvalidArgument e =
        assertThrows(
            GraftException.InvalidArgument.class, () -> GraphChecks.requireWellFormed(broken));
    assertTrue(e.getMessage().startsWith("graph 'broken' is malformed: node late"), e.getMessage());
  }
}
