package dev.graft.model;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Operations on ONNX graphs for transfer learning: cut a graph at its feature tensor, infer the
 * feature shape there, and graft a new classification head.
 *
 * <p>Shapes are inferred by running ONNX Runtime on a dummy batch of zeros with the feature tensor
 * as the output, which also covers imported graphs whose shapes flow through Shape/Gather/Concat
 * subgraphs. The graph is run twice, with the batch (first) dimension of each input at 1 and 2 and
 * other symbolic dimensions at 32 and 48; output dimensions that differ between the two runs are
 * dynamic.
 */
public final class GraphSurgery {

  /** Prefix of every node and initializer that {@link #appendHead} adds. */
  public static final String HEAD_PREFIX = "head.";

  /** Output tensor of a grafted head. */
  public static final String LOGITS = "logits";

  private static final long[] BATCH_PROBES = {1, 2};
  private static final long[] SYMBOLIC_PROBES = {32, 48};
  private static final int LISTED_TENSORS = 60;

  private GraphSurgery() {}

  /** Whether an initializer or node name belongs to a head grafted by {@link #appendHead}. */
  public static boolean isHead(String name) {
    return name.startsWith(HEAD_PREFIX);
  }

  /** Output tensors of all nodes, in graph order: the tensors a graph can be cut at. */
  public static List<String> nodeOutputs(ModelProto model) {
    List<String> names = new ArrayList<>();
    for (NodeProto n : model.getGraph().getNodeList()) {
      for (String o : n.getOutputList()) {
        if (!o.isEmpty()) {
          names.add(o);
        }
      }
    }
    return names;
  }

  /**
   * Keeps only what computes {@code featureTensor}: the nodes it depends on, the initializers and
   * inputs they read, the value infos of the kept tensors. The feature tensor becomes the single
   * output, with its inferred shape ({@code N} for the batch dimension).
   *
   * @throws GraftException.InvalidArgument if no node produces the tensor (the message lists the
   *     available ones) or the cut graph cannot run on a dummy batch
   */
  public static ModelProto cut(ModelProto model, String featureTensor) {
    ModelProto structural = pruneTo(model, featureTensor, untypedOutput(model, featureTensor));
    long[][] probes = probe(structural, featureTensor);
    ValueInfoProto output = shapedOutput(structural.getGraph().getOutput(0), probes);
    GraphProto graph = structural.getGraph().toBuilder().clearOutput().addOutput(output).build();
    return structural.toBuilder().setGraph(graph).build();
  }

  /**
   * Shape of {@code featureTensor} for one sample, the batch dimension left out: {@code [64]} for
   * {@code [N, 64]}, {@code [64, 4, 4]} for {@code [N, 64, 4, 4]}, {@code [-1, 128]} for a
   * transformer's {@code [N, T, 128]} (-1 marks a dimension that follows the input's size).
   */
  public static long[] featureShape(ModelProto model, String featureTensor) {
    ModelProto structural = pruneTo(model, featureTensor, untypedOutput(model, featureTensor));
    return perSample(probe(structural, featureTensor));
  }

  /**
   * Cuts {@code backbone} at {@code featureTensor} and grafts a classification head whose output is
   * {@code logits}, {@code [N, numClasses]}. Head nodes and initializers are named {@code head.0},
   * {@code head.1}, … like an {@code nn.Sequential}, and initialised as PyTorch would from {@code
   * seed} alone: the same seed gives the same bytes.
   *
   * <p>Features of rank above 2 are pooled first: a 4-D {@code [N, C, H, W]} tensor by
   * GlobalAveragePool + Flatten ({@code head.pool}, {@code head.flatten}) into {@code [N, C]}, a
   * 3-D {@code [N, T, H]} tensor (a transformer's hidden states) by ReduceMean over axis 1 ({@code
   * head.pool}) into {@code [N, H]}.
   *
   * @throws GraftException.InvalidArgument if the tensor does not exist, its rank is not 2, 3 or 4,
   *     its feature dimension is dynamic, or the part of the backbone that computes it already has
   *     {@code head.*} names
   */
  public static ModelProto appendHead(
      ModelProto backbone, String featureTensor, HeadSpec spec, long seed) {
    ModelProto cut = cut(backbone, featureTensor);
    requireNoHead(cut, featureTensor);
    List<TensorShapeProto.Dimension> dims =
        cut.getGraph().getOutput(0).getType().getTensorType().getShape().getDimList();
    GraphBuilder g = GraphBuilder.extend(cut, seed);
    String x = featureTensor;
    TensorShapeProto.Dimension featureDim;
    switch (dims.size()) {
      case 2:
        featureDim = dims.get(1);
        break;
      case 3:
        x = g.reduceMean(HEAD_PREFIX + "pool", x, new long[] {1}, false);
        featureDim = dims.get(2);
        break;
      case 4:
        x = g.globalAveragePool(HEAD_PREFIX + "pool", x);
        x = g.flatten(HEAD_PREFIX + "flatten", x);
        featureDim = dims.get(1);
        break;
      default:
        throw new GraftException.InvalidArgument(
            "feature tensor "
                + featureTensor
                + " has rank "
                + dims.size()
                + "; a head needs [N, F], [N, T, H] or [N, C, H, W]");
    }
    if (!featureDim.hasDimValue()) {
      throw new GraftException.InvalidArgument(
          "feature tensor "
              + featureTensor
              + " has a dynamic feature dimension "
              + describe(dims)
              + "; cut at a tensor whose feature size is fixed");
    }
    int in = Math.toIntExact(featureDim.getDimValue());
    int layer = 0;
    for (int hidden : spec.hiddenSizes()) {
      if (spec.dropout() > 0f) {
        x = g.dropout(HEAD_PREFIX + layer++, x, spec.dropout());
      }
      x = g.linear(HEAD_PREFIX + layer++, x, in, hidden);
      x = activation(g, HEAD_PREFIX + layer++, x, spec.activation());
      in = hidden;
    }
    if (spec.dropout() > 0f) {
      x = g.dropout(HEAD_PREFIX + layer++, x, spec.dropout());
    }
    g.linear(HEAD_PREFIX + layer, x, in, spec.numClasses(), LOGITS);
    return g.output(LOGITS, spec.numClasses()).build();
  }

  private static String activation(
      GraphBuilder g, String name, String x, HeadSpec.Activation activation) {
    switch (activation) {
      case RELU:
        return g.relu(name, x);
      case TANH:
        return g.tanh(name, x);
      case SIGMOID:
        return g.sigmoid(name, x);
      case LEAKY_RELU:
        return g.leakyRelu(name, x, 0.01f);
      default:
        throw new IllegalStateException("unhandled activation " + activation);
    }
  }

  private static void requireNoHead(ModelProto cut, String featureTensor) {
    GraphProto graph = cut.getGraph();
    List<String> clashes = new ArrayList<>();
    graph.getInitializerList().stream()
        .map(TensorProto::getName)
        .filter(GraphSurgery::isHead)
        .forEach(clashes::add);
    graph.getNodeList().stream()
        .map(NodeProto::getName)
        .filter(GraphSurgery::isHead)
        .forEach(clashes::add);
    if (!clashes.isEmpty() || nodeOutputs(cut).contains(LOGITS)) {
      throw new GraftException.InvalidArgument(
          "the graph up to "
              + featureTensor
              + " already uses "
              + (clashes.isEmpty()
                  ? "the tensor " + LOGITS
                  : "head names " + clashes.subList(0, Math.min(clashes.size(), 10)))
              + "; cut at the feature tensor before the existing head");
    }
  }

  /**
   * Per-sample shapes of several tensors, as {@link #featureShape} gives them for one, from two
   * dummy runs of one graph that outputs all of them.
   *
   * @throws GraftException.InvalidArgument as {@link #featureShape} does, for the first tensor that
   *     no node computes or that the graph cannot run up to
   */
  public static Map<String, long[]> featureShapes(ModelProto model, List<String> tensors) {
    List<ValueInfoProto> outputs = tensors.stream().map(t -> untypedOutput(model, t)).toList();
    ModelProto structural = pruneTo(model, tensors, outputs);
    Map<String, long[][]> probes = probeAll(structural, tensors);
    Map<String, long[]> out = new LinkedHashMap<>();
    for (String t : tensors) {
      out.put(t, perSample(probes.get(t)));
    }
    return out;
  }

  /**
   * Keeps only what computes the {@code tensors}, which become the graph's outputs (untyped shapes:
   * declare them with {@link GraphBuilder#output} after extending it).
   */
  public static ModelProto pruneTo(ModelProto model, List<String> tensors) {
    return pruneTo(model, tensors, tensors.stream().map(t -> untypedOutput(model, t)).toList());
  }

  /** The graph reduced to what computes {@code tensor}, with {@code output} as its only output. */
  private static ModelProto pruneTo(ModelProto model, String tensor, ValueInfoProto output) {
    return pruneTo(model, List.of(tensor), List.of(output));
  }

  /** The graph reduced to what computes the {@code tensors}, with {@code outputs} as outputs. */
  private static ModelProto pruneTo(
      ModelProto model, List<String> tensors, List<ValueInfoProto> outputs) {
    GraphProto graph = model.getGraph();
    Map<String, Integer> producer = new HashMap<>();
    for (int i = 0; i < graph.getNodeCount(); i++) {
      for (String o : graph.getNode(i).getOutputList()) {
        producer.put(o, i);
      }
    }
    for (String tensor : tensors) {
      if (!producer.containsKey(tensor)) {
        throw new GraftException.InvalidArgument(unknownTensorMessage(model, tensor));
      }
    }
    boolean[] needed = new boolean[graph.getNodeCount()];
    Set<String> used = new HashSet<>();
    Deque<String> pending = new ArrayDeque<>(tensors);
    while (!pending.isEmpty()) {
      String t = pending.pop();
      if (!used.add(t)) {
        continue;
      }
      Integer p = producer.get(t);
      if (p != null && !needed[p]) {
        needed[p] = true;
        graph.getNode(p).getInputList().stream().filter(s -> !s.isEmpty()).forEach(pending::push);
      }
    }
    GraphProto.Builder cut =
        graph.toBuilder()
            .clearNode()
            .clearInitializer()
            .clearInput()
            .clearOutput()
            .clearValueInfo()
            .clearSparseInitializer();
    Set<String> produced = new HashSet<>();
    for (int i = 0; i < graph.getNodeCount(); i++) {
      if (needed[i]) {
        cut.addNode(graph.getNode(i));
        produced.addAll(graph.getNode(i).getOutputList());
      }
    }
    graph.getInitializerList().stream()
        .filter(t -> used.contains(t.getName()))
        .forEach(cut::addInitializer);
    graph.getSparseInitializerList().stream()
        .filter(t -> used.contains(t.getValues().getName()))
        .forEach(cut::addSparseInitializer);
    graph.getInputList().stream().filter(v -> used.contains(v.getName())).forEach(cut::addInput);
    Set<String> outputNames = new HashSet<>(tensors);
    graph.getValueInfoList().stream()
        .filter(v -> produced.contains(v.getName()) && !outputNames.contains(v.getName()))
        .forEach(cut::addValueInfo);
    cut.addAllOutput(outputs);
    // Training info refers to the whole graph's initializers; it does not survive a cut.
    return model.toBuilder().setGraph(cut).clearTrainingInfo().build();
  }

  private static String unknownTensorMessage(ModelProto model, String tensor) {
    List<String> outputs = nodeOutputs(model);
    boolean isInput =
        model.getGraph().getInputList().stream().anyMatch(v -> v.getName().equals(tensor));
    List<String> listed =
        outputs.size() <= LISTED_TENSORS
            ? outputs
            : outputs.subList(outputs.size() - LISTED_TENSORS, outputs.size());
    return "tensor '"
        + tensor
        + "' "
        + (isInput ? "is a graph input, not" : "is not")
        + " computed by a node of graph '"
        + model.getGraph().getName()
        + "'; cut at one of "
        + (listed.size() < outputs.size()
            ? "the last " + listed.size() + " of " + outputs.size() + " node outputs "
            : "")
        + listed;
  }

  /** The tensor as an output with its element type when the graph records it, else float. */
  private static ValueInfoProto untypedOutput(ModelProto model, String tensor) {
    GraphProto graph = model.getGraph();
    int elemType =
        findValueInfo(graph, tensor)
            .map(v -> v.getType().getTensorType().getElemType())
            .filter(t -> t != 0)
            .orElse(TensorProto.DataType.FLOAT.getNumber());
    return ValueInfoProto.newBuilder()
        .setName(tensor)
        .setType(
            TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType)))
        .build();
  }

  private static Optional<ValueInfoProto> findValueInfo(GraphProto graph, String tensor) {
    List<ValueInfoProto> all = new ArrayList<>(graph.getOutputList());
    all.addAll(graph.getValueInfoList());
    return all.stream().filter(v -> v.getName().equals(tensor)).findFirst();
  }

  private static ValueInfoProto shapedOutput(ValueInfoProto untyped, long[][] probes) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    long[] a = probes[0];
    long[] b = probes[1];
    for (int i = 0; i < a.length; i++) {
      TensorShapeProto.Dimension.Builder d = TensorShapeProto.Dimension.newBuilder();
      if (a[i] == b[i]) {
        d.setDimValue(a[i]);
      } else {
        d.setDimParam(i == 0 ? GraphBuilder.BATCH_DIM : untyped.getName() + "_dim" + i);
      }
      shape.addDim(d);
    }
    ValueInfoProto.Builder v = untyped.toBuilder();
    v.getTypeBuilder().getTensorTypeBuilder().setShape(shape);
    return v.build();
  }

  private static long[] perSample(long[][] probes) {
    long[] a = probes[0];
    long[] b = probes[1];
    if (a.length == 0) {
      return a;
    }
    long[] shape = new long[a.length - 1];
    for (int i = 1; i < a.length; i++) {
      shape[i - 1] = a[i] == b[i] ? a[i] : -1;
    }
    return shape;
  }

  private static String describe(List<TensorShapeProto.Dimension> dims) {
    List<String> parts = new ArrayList<>();
    for (TensorShapeProto.Dimension d : dims) {
      parts.add(d.hasDimValue() ? Long.toString(d.getDimValue()) : d.getDimParam());
    }
    return parts.toString();
  }

  /** Output shapes of two dummy runs of a graph whose single output is {@code tensor}. */
  private static long[][] probe(ModelProto model, String tensor) {
    return probeAll(model, List.of(tensor)).get(tensor);
  }

  /** Output shapes of two dummy runs of a graph whose outputs are the {@code tensors}. */
  private static Map<String, long[][]> probeAll(ModelProto model, List<String> tensors) {
    String tensor = String.join(", ", tensors);
    Set<String> initializers = new HashSet<>();
    model.getGraph().getInitializerList().forEach(t -> initializers.add(t.getName()));
    List<ValueInfoProto> inputs =
        model.getGraph().getInputList().stream()
            .filter(v -> !initializers.contains(v.getName()))
            .toList();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      options.setIntraOpNumThreads(1);
      try (OrtSession session = env.createSession(model.toByteArray(), options)) {
        List<long[]> first = run(env, session, inputs, 0, tensors);
        List<long[]> second = run(env, session, inputs, 1, tensors);
        Map<String, long[][]> out = new LinkedHashMap<>();
        for (int i = 0; i < tensors.size(); i++) {
          long[][] shapes = {first.get(i), second.get(i)};
          if (shapes[0].length != shapes[1].length) {
            throw new GraftException.InvalidArgument(
                "tensor "
                    + tensors.get(i)
                    + " changes rank with the input size; cut at another tensor");
          }
          out.put(tensors.get(i), shapes);
        }
        return out;
      }
    } catch (OrtException e) {
      throw new GraftException.InvalidArgument(
          "cannot run graph '"
              + model.getGraph().getName()
              + "' up to tensor "
              + tensor
              + " on a dummy batch of zeros: "
              + e.getMessage(),
          e);
    }
  }

  private static List<long[]> run(
      OrtEnvironment env,
      OrtSession session,
      List<ValueInfoProto> inputs,
      int run,
      List<String> tensors)
      throws OrtException {
    Map<String, OnnxTensor> feed = new LinkedHashMap<>();
    try {
      for (ValueInfoProto input : inputs) {
        feed.put(input.getName(), zeros(env, input, run));
      }
      try (OrtSession.Result result = session.run(feed)) {
        List<long[]> shapes = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i++) {
          OnnxValue value = result.get(i);
          if (!(value instanceof OnnxTensor)) {
            throw new GraftException.InvalidArgument(
                "tensor " + tensors.get(i) + " is not a tensor but " + value.getType());
          }
          shapes.add(((OnnxTensor) value).getInfo().getShape());
        }
        return shapes;
      }
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  private static OnnxTensor zeros(OrtEnvironment env, ValueInfoProto input, int run)
      throws OrtException {
    TypeProto.Tensor type = input.getType().getTensorType();
    List<TensorShapeProto.Dimension> dims = type.getShape().getDimList();
    long[] shape = new long[dims.size()];
    for (int i = 0; i < shape.length; i++) {
      TensorShapeProto.Dimension d = dims.get(i);
      if (d.hasDimValue() && d.getDimValue() > 0) {
        shape[i] = d.getDimValue();
      } else {
        shape[i] = i == 0 ? BATCH_PROBES[run] : SYMBOLIC_PROBES[run];
      }
    }
    int n = Math.toIntExact(GraphBuilder.elementCount(shape));
    TensorProto.DataType dataType = TensorProto.DataType.forNumber(type.getElemType());
    if (dataType == null) {
      dataType = TensorProto.DataType.UNDEFINED;
    }
    switch (dataType) {
      case FLOAT:
        return OnnxTensor.createTensor(env, FloatBuffer.allocate(n), shape);
      case DOUBLE:
        return OnnxTensor.createTensor(env, DoubleBuffer.allocate(n), shape);
      case INT64:
        return OnnxTensor.createTensor(env, LongBuffer.allocate(n), shape);
      case INT32:
        return OnnxTensor.createTensor(env, IntBuffer.allocate(n), shape);
      case BOOL:
        return OnnxTensor.createTensor(
            env, ByteBuffer.allocate(n), shape, ai.onnxruntime.OnnxJavaType.BOOL);
      default:
        throw new GraftException.InvalidArgument(
            "graph input "
                + input.getName()
                + " has element type "
                + dataType
                + "; shape inference supports float, double, int32, int64 and bool inputs");
    }
  }
}
