package dev.graft.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import dev.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Fluent builder of ONNX graphs (opset 17, IR version 8) with PyTorch-style names and seeded
 * PyTorch-default initialisation.
 *
 * <p>Each layer method takes a name such as {@code layer1.0.conv1}: the node gets that name, its
 * output tensor gets that name, and its parameters are called {@code layer1.0.conv1.weight}, {@code
 * layer1.0.conv1.bias}, {@code layer1.0.bn1.running_mean}… as in a PyTorch {@code state_dict}. That
 * is what lets {@link FreezeSpec} group parameters into blocks by name prefix.
 *
 * <p>Initial values depend only on the seed and the parameter name (each parameter draws from its
 * own random stream keyed by both), so the same seed gives byte-identical graphs and adding a layer
 * does not change the values of the others.
 */
public final class GraphBuilder {

  /** Opset of the default ONNX domain that the builder emits. */
  public static final long OPSET = 17;

  /** IR version matching opset 17. */
  public static final long IR_VERSION = 8;

  /** Symbolic name of the dynamic batch dimension of inputs and outputs. */
  public static final String BATCH_DIM = "N";

  private static final String PRODUCER = "graft";

  private final long seed;
  private final ModelProto template;
  private final GraphProto.Builder graph;
  private final Map<String, TensorProto> initializers = new LinkedHashMap<>();
  private final Set<String> tensors = new HashSet<>();
  private final Set<String> nodeNames = new HashSet<>();
  private final long opset;

  /**
   * Starts an empty graph.
   *
   * @param graphName name of the ONNX graph
   * @param seed seed of the initial parameter values
   */
  public GraphBuilder(String graphName, long seed) {
    this(
        ModelProto.newBuilder()
            .setIrVersion(IR_VERSION)
            .setProducerName(PRODUCER)
            .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
            .setGraph(GraphProto.newBuilder().setName(graphName))
            .build(),
        seed);
  }

  private GraphBuilder(ModelProto template, long seed) {
    this.seed = seed;
    this.template = template;
    GraphProto source = template.getGraph();
    this.graph = source.toBuilder().clearInitializer().clearOutput();
    this.opset = defaultOpset(template);
    for (TensorProto t : source.getInitializerList()) {
      initializers.put(t.getName(), t);
      tensors.add(t.getName());
    }
    source.getInputList().forEach(v -> tensors.add(v.getName()));
    for (NodeProto n : source.getNodeList()) {
      tensors.addAll(n.getOutputList());
      if (!n.getName().isEmpty()) {
        nodeNames.add(n.getName());
      }
    }
  }

  /**
   * Continues an existing model: its nodes, initializers, inputs, opset and metadata are kept, its
   * outputs are dropped (declare new ones with {@link #output}).
   */
  public static GraphBuilder extend(ModelProto model, long seed) {
    return new GraphBuilder(model, seed);
  }

  /** Opset of the default domain of the graph being built (17 unless extending another model). */
  public long opset() {
    return opset;
  }

  /** Whether a tensor of that name already exists (input, initializer or node output). */
  public boolean hasTensor(String name) {
    return tensors.contains(name);
  }

  /** Adds a float graph input of shape {@code [N, dims...]} and returns its name. */
  public String input(String name, long... dims) {
    claimTensor(name);
    graph.addInput(floatValueInfo(name, dims));
    return name;
  }

  /** Adds a graph input with an explicit value info (any type, symbolic dimensions). */
  public String input(ValueInfoProto valueInfo) {
    claimTensor(valueInfo.getName());
    graph.addInput(valueInfo);
    return valueInfo.getName();
  }

  /** Declares a float graph output of shape {@code [N, dims...]}; the tensor must exist. */
  public GraphBuilder output(String tensor, long... dims) {
    requireTensor(tensor);
    graph.addOutput(floatValueInfo(tensor, dims));
    return this;
  }

  /** Declares a graph output with an explicit value info (type and shape). */
  public GraphBuilder output(ValueInfoProto valueInfo) {
    requireTensor(valueInfo.getName());
    graph.addOutput(valueInfo);
    return this;
  }

  /**
   * Adds a node with one output and returns the output's name.
   *
   * @param opType ONNX operator of the default domain
   * @param name node name
   * @param inputs input tensor names, which must exist ("" for an omitted optional input)
   * @param output output tensor name, which must be new
   */
  public String node(
      String opType,
      String name,
      List<String> inputs,
      String output,
      AttributeProto... attributes) {
    for (String input : inputs) {
      if (!input.isEmpty()) {
        requireTensor(input);
      }
    }
    if (!nodeNames.add(name)) {
      throw new GraftException.InvalidArgument(
          "node name " + name + " is already used in graph " + graph.getName());
    }
    claimTensor(output);
    graph.addNode(
        NodeProto.newBuilder()
            .setName(name)
            .setOpType(opType)
            .addAllInput(inputs)
            .addOutput(output)
            .addAllAttribute(Arrays.asList(attributes)));
    return output;
  }

  /** Adds a float initializer and returns its name. */
  public String floatInitializer(String name, long[] dims, float[] values) {
    checkSize(name, dims, values.length);
    ByteBuffer bytes = ByteBuffer.allocate(values.length * Float.BYTES);
    bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(values);
    return addInitializer(name, dims, TensorProto.DataType.FLOAT, bytes.array());
  }

  /** Adds an int64 initializer (shapes, indices, axes) and returns its name. */
  public String int64Initializer(String name, long[] dims, long[] values) {
    checkSize(name, dims, values.length);
    ByteBuffer bytes = ByteBuffer.allocate(values.length * Long.BYTES);
    bytes.order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().put(values);
    return addInitializer(name, dims, TensorProto.DataType.INT64, bytes.array());
  }

  /** Adds a rank-0 float initializer, such as a Clip bound or a Dropout ratio. */
  public String scalar(String name, float value) {
    return floatInitializer(name, new long[0], new float[] {value});
  }

  /**
   * 2-D convolution like {@code torch.nn.Conv2d}: weight {@code [out, in/groups, k, k]} drawn from
   * Kaiming-uniform with a=sqrt(5), bias uniform in ±1/sqrt(fan_in).
   */
  public String conv(
      String name,
      String x,
      int inChannels,
      int outChannels,
      int kernel,
      int stride,
      int padding,
      int groups,
      boolean bias) {
    if (inChannels % groups != 0 || outChannels % groups != 0) {
      throw new GraftException.InvalidArgument(
          "conv "
              + name
              + ": channels in="
              + inChannels
              + " out="
              + outChannels
              + " must both be divisible by groups="
              + groups);
    }
    long fanIn = (long) (inChannels / groups) * kernel * kernel;
    float bound = (float) (1.0 / Math.sqrt(fanIn));
    List<String> inputs = new ArrayList<>();
    inputs.add(x);
    inputs.add(
        uniform(
            name + ".weight",
            new long[] {outChannels, inChannels / groups, kernel, kernel},
            bound));
    if (bias) {
      inputs.add(uniform(name + ".bias", new long[] {outChannels}, bound));
    }
    return node(
        "Conv",
        name,
        inputs,
        name,
        ints("kernel_shape", kernel, kernel),
        ints("strides", stride, stride),
        ints("pads", padding, padding, padding, padding),
        ints("dilations", 1, 1),
        attr("group", groups));
  }

  /** Convolution without groups and without bias, as used before a BatchNormalization. */
  public String conv(
      String name, String x, int inChannels, int outChannels, int kernel, int stride) {
    return conv(name, x, inChannels, outChannels, kernel, stride, kernel / 2, 1, false);
  }

  /**
   * BatchNormalization like {@code torch.nn.BatchNorm2d}: weight 1, bias 0, running_mean 0,
   * running_var 1, epsilon 1e-5, momentum 0.9 (ONNX's weight of the old value, PyTorch's 0.1).
   */
  public String batchNorm(String name, String x, int channels) {
    long[] dims = {channels};
    return node(
        "BatchNormalization",
        name,
        List.of(
            x,
            constant(name + ".weight", dims, 1f),
            constant(name + ".bias", dims, 0f),
            constant(name + ".running_mean", dims, 0f),
            constant(name + ".running_var", dims, 1f)),
        name,
        attr("epsilon", 1e-5f),
        attr("momentum", 0.9f));
  }

  /**
   * Linear layer like {@code torch.nn.Linear}: Gemm with transB=1, weight {@code [out, in]}
   * Kaiming-uniform with a=sqrt(5), bias uniform in ±1/sqrt(in).
   */
  public String linear(String name, String x, int in, int out) {
    return linear(name, x, in, out, name);
  }

  /** {@link #linear(String, String, int, int)} writing to a chosen output tensor. */
  public String linear(String name, String x, int in, int out, String output) {
    float bound = (float) (1.0 / Math.sqrt(in));
    return node(
        "Gemm",
        name,
        List.of(
            x,
            uniform(name + ".weight", new long[] {out, in}, bound),
            uniform(name + ".bias", new long[] {out}, bound)),
        output,
        attr("alpha", 1f),
        attr("beta", 1f),
        attr("transB", 1));
  }

  public String relu(String name, String x) {
    return node("Relu", name, List.of(x), name);
  }

  /** ReLU6 as Clip with min 0 and max 6 given as scalar initializers (opset 11 and later). */
  public String relu6(String name, String x) {
    return node(
        "Clip", name, List.of(x, scalar(name + ".min", 0f), scalar(name + ".max", 6f)), name);
  }

  public String leakyRelu(String name, String x, float alpha) {
    return node("LeakyRelu", name, List.of(x), name, attr("alpha", alpha));
  }

  public String tanh(String name, String x) {
    return node("Tanh", name, List.of(x), name);
  }

  public String sigmoid(String name, String x) {
    return node("Sigmoid", name, List.of(x), name);
  }

  public String add(String name, String a, String b) {
    return node("Add", name, List.of(a, b), name);
  }

  public String maxPool(String name, String x, int kernel, int stride, int padding) {
    return node(
        "MaxPool",
        name,
        List.of(x),
        name,
        ints("kernel_shape", kernel, kernel),
        ints("strides", stride, stride),
        ints("pads", padding, padding, padding, padding));
  }

  public String globalAveragePool(String name, String x) {
    return node("GlobalAveragePool", name, List.of(x), name);
  }

  /** Flatten with axis 1: {@code [N, d1, d2…]} to {@code [N, d1*d2*…]}. */
  public String flatten(String name, String x) {
    return flatten(name, x, name);
  }

  /** {@link #flatten(String, String)} writing to a chosen output tensor. */
  public String flatten(String name, String x, String output) {
    return node("Flatten", name, List.of(x), output, attr("axis", 1));
  }

  /**
   * Dropout with its ratio as a scalar initializer input ({@code name.ratio}), as opset 12 and
   * later define it; for older opsets (when extending an imported model) the ratio is an attribute.
   * Without a training_mode input, ONNX runtimes treat it as identity.
   */
  public String dropout(String name, String x, float ratio) {
    if (ratio < 0f || ratio >= 1f) {
      throw new GraftException.InvalidArgument(
          "dropout " + name + ": ratio " + ratio + " must be in [0, 1)");
    }
    if (opset < 12) {
      return node("Dropout", name, List.of(x), name, attr("ratio", ratio));
    }
    return node("Dropout", name, List.of(x, scalar(name + ".ratio", ratio)), name);
  }

  /** ReduceMean with axes as an attribute (opset 17 and earlier). */
  public String reduceMean(String name, String x, long[] axes, boolean keepDims) {
    return node(
        "ReduceMean",
        name,
        List.of(x),
        name,
        ints("axes", axes),
        attr("keepdims", keepDims ? 1 : 0));
  }

  /** Finishes the model; every declared output must exist and there must be at least one. */
  public ModelProto build() {
    if (graph.getOutputCount() == 0) {
      throw new GraftException.FailedPrecondition(
          "graph " + graph.getName() + " has no output; declare one with output(tensor, dims)");
    }
    GraphProto done = graph.clone().addAllInitializer(initializers.values()).build();
    return template.toBuilder().setGraph(done).build();
  }

  /** A float value info of shape {@code [N, dims...]}. */
  public static ValueInfoProto floatValueInfo(String name, long... dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(BATCH_DIM));
    for (long d : dims) {
      shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return ValueInfoProto.newBuilder()
        .setName(name)
        .setType(
            TypeProto.newBuilder()
                .setTensorType(
                    TypeProto.Tensor.newBuilder()
                        .setElemType(TensorProto.DataType.FLOAT.getNumber())
                        .setShape(shape)))
        .build();
  }

  public static AttributeProto attr(String name, long value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.INT)
        .setI(value)
        .build();
  }

  public static AttributeProto attr(String name, float value) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.FLOAT)
        .setF(value)
        .build();
  }

  public static AttributeProto ints(String name, long... values) {
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return a.build();
  }

  private String uniform(String name, long[] dims, float bound) {
    // One stream per parameter, keyed by seed and name: stable under adding or removing layers.
    SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
    float[] values = new float[Math.toIntExact(elementCount(dims))];
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) ((random.nextDouble() * 2.0 - 1.0) * bound);
    }
    return floatInitializer(name, dims, values);
  }

  private String constant(String name, long[] dims, float value) {
    float[] values = new float[Math.toIntExact(elementCount(dims))];
    Arrays.fill(values, value);
    return floatInitializer(name, dims, values);
  }

  private String addInitializer(
      String name, long[] dims, TensorProto.DataType type, byte[] littleEndian) {
    claimTensor(name);
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type.getNumber());
    for (long d : dims) {
      t.addDims(d);
    }
    initializers.put(name, t.setRawData(ByteString.copyFrom(littleEndian)).build());
    return name;
  }

  private void claimTensor(String name) {
    if (name.isEmpty() || !tensors.add(name)) {
      throw new GraftException.InvalidArgument(
          "tensor name '" + name + "' is empty or already used in graph " + graph.getName());
    }
  }

  private void requireTensor(String name) {
    if (!tensors.contains(name)) {
      throw new GraftException.InvalidArgument(
          "tensor " + name + " does not exist in graph " + graph.getName());
    }
  }

  private static void checkSize(String name, long[] dims, int length) {
    if (elementCount(dims) != length) {
      throw new GraftException.InvalidArgument(
          "initializer "
              + name
              + " has shape "
              + Arrays.toString(dims)
              + " but "
              + length
              + " values");
    }
  }

  static long elementCount(long[] dims) {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    return n;
  }

  private static long defaultOpset(ModelProto model) {
    for (OperatorSetIdProto o : model.getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        return o.getVersion();
      }
    }
    return OPSET;
  }
}
