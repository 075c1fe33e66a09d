package dev.graft.model;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Structural checks of a top-level ONNX graph that ONNX Runtime does not all make: it accepts
 * unused initializers and inputs silently, yet they are dead weight in an exported file and, for
 * initializers, phantom parameters for training.
 */
public final class GraphChecks {

  private GraphChecks() {}

  /**
   * What is wrong with the graph, empty when nothing: a default-domain opset import is missing; a
   * node reads a tensor that no graph input, initializer or earlier node provides (graphs must be
   * topologically sorted); a tensor is produced twice; a graph output is not produced; an
   * initializer, a graph input or a node's outputs are used by nothing.
   */
  public static List<String> problems(ModelProto model) {
    GraphProto graph = model.getGraph();
    List<String> problems = new ArrayList<>();
    boolean hasDefaultOpset =
        model.getOpsetImportList().stream()
            .map(OperatorSetIdProto::getDomain)
            .anyMatch(d -> d.isEmpty() || d.equals("ai.onnx"));
    if (!hasDefaultOpset) {
      problems.add("no opset import for the default ONNX domain");
    }
    Set<String> available = new HashSet<>();
    Set<String> initializers = new LinkedHashSet<>();
    for (TensorProto t : graph.getInitializerList()) {
      if (!initializers.add(t.getName())) {
        problems.add("initializer " + t.getName() + " is defined twice");
      }
      available.add(t.getName());
    }
    for (ValueInfoProto v : graph.getInputList()) {
      if (!available.add(v.getName()) && !initializers.contains(v.getName())) {
        problems.add("graph input " + v.getName() + " is declared twice");
      }
    }
    Set<String> consumed = new HashSet<>();
    graph.getOutputList().forEach(v -> consumed.add(v.getName()));
    for (NodeProto node : graph.getNodeList()) {
      for (String input : node.getInputList()) {
        if (!input.isEmpty() && !available.contains(input)) {
          problems.add(
              "node " + node.getName() + " reads " + input + " before anything produces it");
        }
        consumed.add(input);
      }
      for (String output : node.getOutputList()) {
        if (!output.isEmpty() && !available.add(output)) {
          problems.add("tensor " + output + " is produced twice, again by node " + node.getName());
        }
      }
    }
    for (ValueInfoProto v : graph.getOutputList()) {
      if (!available.contains(v.getName())) {
        problems.add("graph output " + v.getName() + " is not produced");
      }
    }
    for (String name : initializers) {
      if (!consumed.contains(name)) {
        problems.add("initializer " + name + " is used by no node");
      }
    }
    for (ValueInfoProto v : graph.getInputList()) {
      if (!initializers.contains(v.getName()) && !consumed.contains(v.getName())) {
        problems.add("graph input " + v.getName() + " is used by no node");
      }
    }
    for (NodeProto node : graph.getNodeList()) {
      if (node.getOutputList().stream().noneMatch(consumed::contains)) {
        problems.add("the outputs of node " + node.getName() + " are used by nothing");
      }
    }
    return problems;
  }

  /** Throws when {@link #problems} finds any, naming them all. */
  public static void requireWellFormed(ModelProto model) {
    List<String> problems = problems(model);
    if (!problems.isEmpty()) {
      throw new GraftException.InvalidArgument(
          "graph '"
              + model.getGraph().getName()
              + "' is malformed: "
              + String.join("; ", problems));
    }
  }
}
