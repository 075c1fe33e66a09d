package dev.graft.training;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.model.GraphSurgery;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The head of a grafted graph as a graph of its own (input: the feature tensor), and the way back:
 * with a frozen backbone the head trains on cached features, then its weights go back into the full
 * graph.
 */
final class HeadGraph {

  private HeadGraph() {}

  /** The nodes named {@code head.*} with their initializers, fed by the feature tensor. */
  static ModelProto extract(ModelProto full, String featureTensor, long[] featureShape) {
    GraphProto g = full.getGraph();
    GraphProto.Builder head = GraphProto.newBuilder().setName(g.getName() + "-head");
    Set<String> used = new HashSet<>();
    for (NodeProto node : g.getNodeList()) {
      if (GraphSurgery.isHead(node.getName())) {
        head.addNode(node);
        used.addAll(node.getInputList());
      }
    }
    for (TensorProto t : g.getInitializerList()) {
      if (used.contains(t.getName())) {
        head.addInitializer(t);
      }
    }
    TensorShapeProto.Builder shape =
        TensorShapeProto.newBuilder()
            .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("N"));
    for (long d : featureShape) {
      shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    head.addInput(
        ValueInfoProto.newBuilder()
            .setName(featureTensor)
            .setType(
                TypeProto.newBuilder()
                    .setTensorType(
                        TypeProto.Tensor.newBuilder()
                            .setElemType(TensorProto.DataType.FLOAT_VALUE)
                            .setShape(shape))));
    head.addAllOutput(g.getOutputList());
    return full.toBuilder().setGraph(head).build();
  }

  /** The full graph with the head's initializers replaced by the trained ones. */
  static ModelProto merge(ModelProto full, ModelProto trainedHead) {
    Map<String, TensorProto> trained = new HashMap<>();
    for (TensorProto t : trainedHead.getGraph().getInitializerList()) {
      trained.put(t.getName(), t);
    }
    ModelProto.Builder out = full.toBuilder();
    GraphProto.Builder g = out.getGraphBuilder();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = trained.get(g.getInitializer(i).getName());
      if (t != null) {
        g.setInitializer(i, t);
      }
    }
    return out.build();
  }
}
