package dev.graft.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Rewrites a validated opset 11..17 graph so that it means the same at opset 17, which is what the
 * executor implements and the exporter writes. Of the supported operators, these changed between 11
 * and 17 (onnx/docs/Changelog.md): Squeeze/Unsqueeze/ReduceSum-13 take axes as an input instead of
 * an attribute; Dropout-12 takes ratio as an input; Softmax-13 normalises along one axis instead of
 * coercing to 2-D at the axis; BatchNormalization-14/15 has training outputs we never use. The rest
 * (Clip-11, Pad-11, Slice-10, ReduceMean up to 17, Gather, Concat, Reshape-14 with allowzero=0 by
 * default...) kept their meaning.
 */
final class OpsetNormalizer {

  private final Set<String> names = new HashSet<>();
  private final List<TensorProto> newInitializers = new ArrayList<>();

  private OpsetNormalizer(GraphProto g) {
    for (TensorProto t : g.getInitializerList()) {
      names.add(t.getName());
    }
    for (ValueInfoProto v : g.getInputList()) {
      names.add(v.getName());
    }
    for (NodeProto n : g.getNodeList()) {
      names.addAll(n.getOutputList());
      names.add(n.getName());
    }
  }

  static ModelProto toTarget(ModelProto model, int opset) {
    GraphProto g = model.getGraph();
    OpsetNormalizer norm = new OpsetNormalizer(g);
    Set<String> consumed = new HashSet<>();
    for (NodeProto n : g.getNodeList()) {
      consumed.addAll(n.getInputList());
    }
    for (ValueInfoProto v : g.getOutputList()) {
      consumed.add(v.getName());
    }
    List<NodeProto> nodes = new ArrayList<>();
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i).toBuilder().setDomain("").build();
      norm.convert(n, i, opset, consumed, nodes);
    }
    GraphProto.Builder gb = g.toBuilder().clearNode().addAllNode(nodes);
    gb.addAllInitializer(norm.newInitializers);
    ModelProto.Builder mb = model.toBuilder().clearOpsetImport().setGraph(gb);
    mb.addOpsetImport(
        OperatorSetIdProto.newBuilder().setDomain("").setVersion(SupportedOps.TARGET_OPSET));
    if (mb.getIrVersion() < SupportedOps.TARGET_IR_VERSION) {
      mb.setIrVersion(SupportedOps.TARGET_IR_VERSION);
    }
    return mb.build();
  }

  private void convert(
      NodeProto n, int index, int opset, Set<String> consumed, List<NodeProto> out) {
    switch (n.getOpType()) {
      case "Squeeze":
      case "Unsqueeze":
      case "ReduceSum":
        if (opset < 13) {
          out.add(attributeToInput(n, "axes", true));
          return;
        }
        break;
      case "Dropout":
        if (opset < 12) {
          out.add(attributeToInput(n, "ratio", false));
          return;
        }
        break;
      case "Softmax":
        if (opset < 13) {
          softmaxCoerced(n, out);
          return;
        }
        break;
      case "BatchNormalization":
        for (int k = 1; k < n.getOutputCount(); k++) {
          if (!n.getOutput(k).isEmpty() && consumed.contains(n.getOutput(k))) {
            throw new GraftException.InvalidArgument(
                "BatchNormalization node '"
                    + OnnxImport.nodeName(n, index)
                    + "' uses its training output '"
                    + n.getOutput(k)
                    + "'; only the normalised output Y is supported (export the model in eval"
                    + " mode)");
          }
        }
        NodeProto.Builder b = n.toBuilder().clearOutput().addOutput(n.getOutput(0));
        removeAttribute(b, "training_mode");
        removeAttribute(b, "spatial");
        removeAttribute(b, "consumed_inputs");
        out.add(b.build());
        return;
      default:
        break;
    }
    out.add(n);
  }

  private NodeProto attributeToInput(NodeProto n, String attr, boolean ints) {
    AttributeProto a = null;
    for (AttributeProto x : n.getAttributeList()) {
      if (x.getName().equals(attr)) {
        a = x;
      }
    }
    if (a == null) {
      return n;
    }
    NodeProto.Builder b = n.toBuilder();
    removeAttribute(b, attr);
    String name =
        fresh(n.getName().isEmpty() ? n.getOutput(0) + "_" + attr : n.getName() + "_" + attr);
    if (ints) {
      long[] values = a.getIntsList().stream().mapToLong(Long::longValue).toArray();
      newInitializers.add(OnnxTensors.longTensor(name, new long[] {values.length}, values));
    } else {
      newInitializers.add(OnnxTensors.floatTensor(name, new long[0], new float[] {a.getF()}));
    }
    b.clearInput().addInput(n.getInput(0)).addInput(name);
    for (int k = 1; k < n.getInputCount(); k++) {
      b.addInput(n.getInput(k));
    }
    return b.build();
  }

  /** Softmax before 13 flattens to 2-D at the axis and normalises each row. */
  private void softmaxCoerced(NodeProto n, List<NodeProto> out) {
    long axis = 1;
    for (AttributeProto a : n.getAttributeList()) {
      if (a.getName().equals("axis")) {
        axis = a.getI();
      }
    }
    if (axis == -1) {
      out.add(n);
      return;
    }
    String base = n.getName().isEmpty() ? n.getOutput(0) : n.getName();
    String x = n.getInput(0);
    String flat = fresh(base + "_coerced2d");
    String soft = fresh(base + "_softmax2d");
    String shape = fresh(base + "_shape");
    out.add(
        NodeProto.newBuilder()
            .setOpType("Flatten")
            .setName(fresh(base + "/Flatten"))
            .addInput(x)
            .addOutput(flat)
            .addAttribute(intAttr("axis", axis))
            .build());
    out.add(
        NodeProto.newBuilder()
            .setOpType("Softmax")
            .setName(fresh(base + "/Softmax"))
            .addInput(flat)
            .addOutput(soft)
            .addAttribute(intAttr("axis", -1))
            .build());
    out.add(
        NodeProto.newBuilder()
            .setOpType("Shape")
            .setName(fresh(base + "/Shape"))
            .addInput(x)
            .addOutput(shape)
            .build());
    out.add(
        NodeProto.newBuilder()
            .setOpType("Reshape")
            .setName(n.getName())
            .addInput(soft)
            .addInput(shape)
            .addOutput(n.getOutput(0))
            .build());
  }

  private static AttributeProto intAttr(String name, long v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.INT)
        .setI(v)
        .build();
  }

  private static void removeAttribute(NodeProto.Builder b, String name) {
    for (int k = b.getAttributeCount() - 1; k >= 0; k--) {
      if (b.getAttribute(k).getName().equals(name)) {
        b.removeAttribute(k);
      }
    }
  }

  private String fresh(String base) {
    String name = base;
    int k = 1;
    while (!names.add(name)) {
      name = base + "_" + k++;
    }
    return name;
  }
}
