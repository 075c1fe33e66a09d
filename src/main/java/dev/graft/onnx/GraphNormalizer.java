package dev.graft.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Rewrites a graph written for inference into one whose every trainable value is an initializer of
 * its own, run after {@link OpsetNormalizer} on every import:
 *
 * <ol>
 *   <li><b>Untie routed initializers.</b> PyTorch's exporter de-duplicates initializers with equal
 *       values and routes the copies through {@code Identity} nodes ({@code bn1.running_mean =
 *       Identity(bn1.bias)} while both are zero: 72 of them in ResNet-18 with BatchNorm kept). Each
 *       such {@code Identity} becomes an initializer of its own, named as its output (the module's
 *       {@code state_dict} key) and holding the same values, so training the bias never moves the
 *       statistics, and the {@code layer4.1} biases that PyTorch aliased to {@code layer4.0}'s
 *       train with their own block. An {@code Identity} of a {@code Constant} becomes a {@code
 *       Constant}.
 *   <li><b>Fold constant subgraphs.</b> Nodes whose inputs are all {@code Constant} outputs or
 *       integer initializers are computed once by ONNX Runtime and replaced by {@code Constant}s.
 *   <li><b>BatchNormalization reads initializers.</b> A scale, bias, mean or variance that comes
 *       from a {@code Constant} becomes an initializer; one statistic initializer read by more than
 *       one consumer is copied for each further consumer, since each layer updates its own
 *       statistics. What still does not come from an initializer is refused: such a graph cannot
 *       train.
 * </ol>
 *
 * Each step leaves a graph it already normalised unchanged, so normalising twice is harmless.
 */
final class GraphNormalizer {

  private final Set<String> names = new HashSet<>();

  private GraphNormalizer(GraphProto g) {
    for (TensorProto t : g.getInitializerList()) {
      names.add(t.getName());
    }
    for (ValueInfoProto v : g.getInputList()) {
      names.add(v.getName());
    }
    for (NodeProto n : g.getNodeList()) {
      names.addAll(n.getOutputList());
    }
  }

  static ModelProto normalise(ModelProto model) {
    GraphProto g = model.getGraph();
    GraphNormalizer norm = new GraphNormalizer(g);
    Set<String> graphOutputs = new HashSet<>();
    g.getOutputList().forEach(v -> graphOutputs.add(v.getName()));

    Map<String, TensorProto> initializers = new LinkedHashMap<>();
    g.getInitializerList().forEach(t -> initializers.put(t.getName(), t));
    // Initializers read before and by nothing after are dropped: they were copied out.
    Set<String> readBefore = new HashSet<>();
    g.getNodeList().forEach(n -> readBefore.addAll(n.getInputList()));
    List<NodeProto> nodes = untie(g, initializers, graphOutputs);
    nodes = fold(model, nodes, initializers, graphOutputs);
    nodes = norm.batchNormInitializers(nodes, initializers);

    Set<String> read = new HashSet<>(graphOutputs);
    nodes.forEach(n -> read.addAll(n.getInputList()));
    GraphProto.Builder gb = g.toBuilder().clearNode().addAllNode(nodes).clearInitializer();
    for (TensorProto t : initializers.values()) {
      if (read.contains(t.getName()) || !readBefore.contains(t.getName())) {
        gb.addInitializer(t);
      }
    }
    Set<String> dropped = new HashSet<>(initializers.keySet());
    gb.getInitializerList().forEach(t -> dropped.remove(t.getName()));
    for (int i = gb.getInputCount() - 1; i >= 0; i--) {
      if (dropped.contains(gb.getInput(i).getName())) {
        gb.removeInput(i);
      }
    }
    return model.toBuilder().setGraph(gb).build();
  }

  /** Step 1: every Identity of an initializer or a Constant becomes a copy of its own. */
  private static List<NodeProto> untie(
      GraphProto g, Map<String, TensorProto> initializers, Set<String> graphOutputs) {
    Map<String, NodeProto> constants = new HashMap<>();
    List<NodeProto> nodes = new ArrayList<>();
    for (NodeProto n : g.getNodeList()) {
      boolean identity =
          n.getOpType().equals("Identity")
              && n.getInputCount() == 1
              && n.getOutputCount() == 1
              && !graphOutputs.contains(n.getOutput(0));
      if (identity && initializers.containsKey(n.getInput(0))) {
        String out = n.getOutput(0);
        initializers.put(out, initializers.get(n.getInput(0)).toBuilder().setName(out).build());
        continue;
      }
      if (identity && constants.containsKey(n.getInput(0))) {
        NodeProto copy =
            constants.get(n.getInput(0)).toBuilder()
                .setName(n.getName())
                .clearOutput()
                .addOutput(n.getOutput(0))
                .build();
        constants.put(n.getOutput(0), copy);
        nodes.add(copy);
        continue;
      }
      if (n.getOpType().equals("Constant") && n.getOutputCount() == 1) {
        constants.put(n.getOutput(0), n);
      }
      nodes.add(n);
    }
    // A Constant whose every reader was an Identity is read by nothing now.
    Set<String> read = new HashSet<>(graphOutputs);
    nodes.forEach(n -> read.addAll(n.getInputList()));
    return nodes.stream()
        .filter(n -> !n.getOpType().equals("Constant") || read.contains(n.getOutput(0)))
        .toList();
  }

  /** Step 2: nodes that depend on constants only are computed once and become Constants. */
  private static List<NodeProto> fold(
      ModelProto model,
      List<NodeProto> nodes,
      Map<String, TensorProto> initializers,
      Set<String> graphOutputs) {
    Set<String> constant = new HashSet<>();
    for (TensorProto t : initializers.values()) {
      if (!OnnxTensors.isFloat(t.getDataType())) {
        constant.add(t.getName());
      }
    }
    List<NodeProto> closure = new ArrayList<>();
    Set<NodeProto> foldable = new LinkedHashSet<>();
    for (NodeProto n : nodes) {
      if (n.getOpType().equals("Constant")) {
        constant.addAll(n.getOutputList());
        closure.add(n);
      } else if (n.getInputCount() > 0
          && n.getInputList().stream().allMatch(i -> i.isEmpty() || constant.contains(i))) {
        constant.addAll(n.getOutputList());
        closure.add(n);
        foldable.add(n);
      }
    }
    if (foldable.isEmpty()) {
      return nodes;
    }
    Set<String> wanted = new LinkedHashSet<>();
    Set<String> readByOthers = new HashSet<>(graphOutputs);
    for (NodeProto n : nodes) {
      if (!foldable.contains(n)) {
        readByOthers.addAll(n.getInputList());
      }
    }
    for (NodeProto n : foldable) {
      for (String out : n.getOutputList()) {
        if (readByOthers.contains(out)) {
          wanted.add(out);
        }
      }
    }
    Map<String, TensorProto> values = evaluate(model, closure, initializers, constant, wanted);
    List<NodeProto> out = new ArrayList<>();
    Set<String> read = new HashSet<>(readByOthers);
    for (NodeProto n : nodes) {
      if (!foldable.contains(n)) {
        out.add(n);
        continue;
      }
      for (String o : n.getOutputList()) {
        TensorProto v = values.get(o);
        if (v != null) {
          out.add(
              NodeProto.newBuilder()
                  .setOpType("Constant")
                  .setName(n.getName())
                  .addOutput(o)
                  .addAttribute(
                      AttributeProto.newBuilder()
                          .setName("value")
                          .setType(AttributeProto.AttributeType.TENSOR)
                          .setT(v))
                  .build());
        }
      }
    }
    // Constants that only fed folded nodes are read by nothing now.
    return out.stream()
        .filter(n -> !n.getOpType().equals("Constant") || read.contains(n.getOutput(0)))
        .toList();
  }

  private static Map<String, TensorProto> evaluate(
      ModelProto model,
      List<NodeProto> closure,
      Map<String, TensorProto> initializers,
      Set<String> constant,
      Set<String> wanted) {
    GraphProto.Builder sub = GraphProto.newBuilder().setName("constant_folding");
    sub.addAllNode(closure);
    Set<String> used = new HashSet<>();
    closure.forEach(n -> used.addAll(n.getInputList()));
    for (TensorProto t : initializers.values()) {
      if (constant.contains(t.getName()) && used.contains(t.getName())) {
        sub.addInitializer(t);
      }
    }
    for (String w : wanted) {
      sub.addOutput(ValueInfoProto.newBuilder().setName(w));
    }
    ModelProto m =
        ModelProto.newBuilder()
            .setIrVersion(model.getIrVersion())
            .addAllOpsetImport(model.getOpsetImportList())
            .setGraph(sub)
            .build();
    Map<String, TensorProto> out = new HashMap<>();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(m.toByteArray(), options);
        OrtSession.Result result = session.run(Map.of())) {
      for (String w : wanted) {
        Optional<OnnxValue> v = result.get(w);
        if (v.isPresent() && v.get() instanceof OnnxTensor t) {
          TensorProto p = toProto(w, t);
          if (p != null) {
            out.put(w, p);
          }
        }
      }
    } catch (OrtException e) {
      throw new GraftException.InvalidArgument(
          "the graph's constant subgraph (nodes "
              + closure.stream()
                  .filter(n -> !n.getOpType().equals("Constant"))
                  .map(NodeProto::getName)
                  .limit(5)
                  .toList()
              + "…) cannot be computed: "
              + e.getMessage(),
          e);
    }
    return out;
  }

  /** The tensor as raw little-endian data, or null for element types Graft does not fold. */
  private static TensorProto toProto(String name, OnnxTensor t) {
    long[] shape = t.getInfo().getShape();
    ByteBuffer raw;
    int type;
    switch (t.getInfo().type) {
      case FLOAT -> {
        type = TensorProto.DataType.FLOAT_VALUE;
        raw = copy(t.getFloatBuffer().remaining() * 4);
        raw.asFloatBuffer().put(t.getFloatBuffer());
      }
      case DOUBLE -> {
        type = TensorProto.DataType.DOUBLE_VALUE;
        raw = copy(t.getDoubleBuffer().remaining() * 8);
        raw.asDoubleBuffer().put(t.getDoubleBuffer());
      }
      case INT64 -> {
        type = TensorProto.DataType.INT64_VALUE;
        raw = copy(t.getLongBuffer().remaining() * 8);
        raw.asLongBuffer().put(t.getLongBuffer());
      }
      case INT32 -> {
        type = TensorProto.DataType.INT32_VALUE;
        raw = copy(t.getIntBuffer().remaining() * 4);
        raw.asIntBuffer().put(t.getIntBuffer());
      }
      case BOOL, UINT8, INT8 -> {
        type =
            switch (t.getInfo().type) {
              case BOOL -> TensorProto.DataType.BOOL_VALUE;
              case UINT8 -> TensorProto.DataType.UINT8_VALUE;
              default -> TensorProto.DataType.INT8_VALUE;
            };
        ByteBuffer b = t.getByteBuffer();
        raw = copy(b.remaining());
        raw.put(b);
      }
      default -> {
        return null;
      }
    }
    return TensorProto.newBuilder()
        .setName(name)
        .setDataType(type)
        .addAllDims(OnnxTensors.boxed(shape))
        .setRawData(ByteString.copyFrom(raw.array()))
        .build();
  }

  private static ByteBuffer copy(int bytes) {
    return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Step 3: BatchNormalization's inputs 1 to 4 are float initializers, statistics unshared. */
  private List<NodeProto> batchNormInitializers(
      List<NodeProto> nodes, Map<String, TensorProto> initializers) {
    Map<String, TensorProto> constants = new HashMap<>();
    for (NodeProto n : nodes) {
      if (n.getOpType().equals("Constant") && n.getOutputCount() == 1) {
        for (AttributeProto a : n.getAttributeList()) {
          if (a.getName().equals("value")
              && a.hasT()
              && OnnxTensors.isFloat(a.getT().getDataType())) {
            constants.put(n.getOutput(0), a.getT());
          }
        }
      }
    }
    Map<String, Integer> readers = new HashMap<>();
    for (NodeProto n : nodes) {
      for (String in : n.getInputList()) {
        readers.merge(in, 1, Integer::sum);
      }
    }
    List<NodeProto> out = new ArrayList<>();
    for (int index = 0; index < nodes.size(); index++) {
      NodeProto n = nodes.get(index);
      if (!n.getOpType().equals("BatchNormalization")) {
        out.add(n);
        continue;
      }
      NodeProto.Builder b = n.toBuilder();
      for (int k = 1; k <= 4 && k < n.getInputCount(); k++) {
        String in = n.getInput(k);
        boolean statistic = k >= 3;
        if (constants.containsKey(in)) {
          String name = initializers.containsKey(in) ? fresh(in) : in;
          initializers.put(name, constants.get(in).toBuilder().setName(name).build());
          b.setInput(k, name);
        } else if (initializers.containsKey(in)
            && OnnxTensors.isFloat(initializers.get(in).getDataType())) {
          if (statistic && readers.get(in) > 1) {
            String name = fresh(in);
            initializers.put(name, initializers.get(in).toBuilder().setName(name).build());
            b.setInput(k, name);
          }
        } else {
          String role = new String[] {"", "scale", "bias", "running mean", "running variance"}[k];
          throw new GraftException.InvalidArgument(
              "BatchNormalization node '"
                  + OnnxImport.nodeName(n, index)
                  + "' takes its "
                  + role
                  + " from '"
                  + in
                  + "', which is computed by the graph; Graft trains BatchNormalization only"
                  + " when scale, bias, mean and variance are float initializers (export the"
                  + " module's parameters and buffers as they are)");
        }
      }
      out.add(b.build());
    }
    // The Constants moved into initializers may be read by nothing now.
    Set<String> read = new HashSet<>();
    out.forEach(n -> read.addAll(n.getInputList()));
    return out.stream()
        .filter(
            n ->
                !n.getOpType().equals("Constant")
                    || read.contains(n.getOutput(0))
                    || !constants.containsKey(n.getOutput(0)))
        .toList();
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
