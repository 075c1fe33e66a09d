package dev.graft.onnx;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A DJL block that executes an ONNX graph with NDArray operations, so that DJL's autograd,
 * optimizers and devices train it.
 *
 * <p>Every float initializer read by a computing input becomes a {@link Parameter} named exactly as
 * the initializer; it trains when {@code trainable} accepts its name. Initializers that only feed
 * static inputs (Reshape shape, Clip bounds, Slice/Pad/Squeeze arguments, Dropout ratio), integer
 * initializers and Constant nodes are constants held on the host. BatchNormalization means and
 * variances are parameters without gradient: updated with batch statistics in training (PyTorch
 * semantics, ONNX momentum), used as they are in inference, and never updated by a node whose scale
 * and bias are both frozen. Weights always come from the graph: initializers set through {@code
 * setInitializer} (for instance by a training config) are ignored.
 */
public final class OnnxBlock extends AbstractBlock {

  private static final Map<String, int[]> STATIC_INPUTS =
      Map.of(
          "Clip", new int[] {1, 2},
          "Dropout", new int[] {1, 2},
          "Pad", new int[] {1, 2, 3},
          "Reshape", new int[] {1},
          "Slice", new int[] {1, 2, 3, 4},
          "Squeeze", new int[] {1},
          "Unsqueeze", new int[] {1});

  private final ModelProto model;
  private volatile java.util.SplittableRandom dropoutRandom;
  private final Map<String, TensorProto> initializers = new LinkedHashMap<>();
  private final List<String> inputNames = new ArrayList<>();
  private final List<DataType> inputTypes = new ArrayList<>();
  private final List<Shape> declaredInputShapes = new ArrayList<>();
  private final List<String> outputNames = new ArrayList<>();

  // The execution plan: every tensor is a slot; each step reads slots and writes one.
  private final Object[] constantSlots;
  private final int[] inputSlots;
  private final Parameter[] params;
  private final int[] paramSlots;
  private final Step[] steps;
  private final int[] outputSlots;

  private static final class Step {
    final int[] inputs;
    final int output;
    final Kernels.Op op;

    Step(int[] inputs, int output, Kernels.Op op) {
      this.inputs = inputs;
      this.output = output;
      this.op = op;
    }
  }

  /**
   * Builds the block for a model (validated and normalised to opset 17 here if needed).
   *
   * @param model the ONNX model
   * @param trainable which float initializers receive gradients, by initializer name
   */
  public OnnxBlock(ModelProto model, Predicate<String> trainable) {
    this.model = OnnxImport.normalise(model);
    GraphProto g = this.model.getGraph();
    for (TensorProto t : g.getInitializerList()) {
      initializers.put(t.getName(), t);
    }
    Map<String, Integer> slots = new HashMap<>();
    Function<String, Integer> slotOf = name -> slots.computeIfAbsent(name, k -> slots.size());

    for (ValueInfoProto v : g.getInputList()) {
      if (!initializers.containsKey(v.getName())) {
        inputNames.add(v.getName());
        slotOf.apply(v.getName());
        int elem = v.getType().getTensorType().getElemType();
        inputTypes.add(elem == 0 ? DataType.FLOAT32 : HostTensor.djlType(elem));
        declaredInputShapes.add(declaredShape(v));
      }
    }
    for (ValueInfoProto v : g.getOutputList()) {
      outputNames.add(v.getName());
    }

    List<NodeProto> plan = executionOrder(g);
    Map<String, Parameter.Type> roles = roles(plan);

    Map<String, Parameter> byName = new HashMap<>();
    List<Parameter> paramList = new ArrayList<>();
    List<Integer> paramSlotList = new ArrayList<>();
    Map<Integer, Object> constants = new HashMap<>();
    for (TensorProto t : initializers.values()) {
      Parameter.Type role = roles.get(t.getName());
      if (role == null) {
        continue;
      }
      int slot = slotOf.apply(t.getName());
      if (OnnxTensors.isFloat(t.getDataType()) && role != Parameter.Type.OTHER) {
        boolean running = role == Parameter.Type.RUNNING_MEAN || role == Parameter.Type.RUNNING_VAR;
        Parameter p =
            Parameter.builder()
                .setName(t.getName())
                .setType(role)
                .optShape(new Shape(OnnxTensors.dims(t)))
                .optRequiresGrad(!running && trainable.test(t.getName()))
                .optInitializer(new GraphInitializer(t))
                .build();
        addParameter(p);
        byName.put(t.getName(), p);
        paramList.add(p);
        paramSlotList.add(slot);
      } else {
        constants.put(slot, HostTensor.of(t));
      }
    }

    Kernels.Scope scope =
        new Kernels.Scope() {
          @Override
          public HostTensor constant(String name) {
            Integer s = slots.get(name);
            return s == null ? null : (HostTensor) constants.get(s);
          }

          @Override
          public Parameter parameter(String name) {
            return byName.get(name);
          }
        };
    List<Step> stepList = new ArrayList<>();
    for (NodeProto n : plan) {
      String nodeName = n.getName().isEmpty() ? n.getOpType() + "->" + n.getOutput(0) : n.getName();
      Kernels.Op op = Kernels.compile(n, nodeName, scope);
      int out = slotOf.apply(n.getOutput(0));
      if (n.getOpType().equals("Constant")) {
        constants.put(out, op.apply(new Object[0], null));
        continue;
      }
      int[] ins = new int[n.getInputCount()];
      for (int k = 0; k < ins.length; k++) {
        String in = n.getInput(k);
        ins[k] = in.isEmpty() ? -1 : slotOf.apply(in);
      }
      stepList.add(new Step(ins, out, op));
    }
    for (String out : outputNames) {
      slotOf.apply(out);
    }

    constantSlots = new Object[slots.size()];
    constants.forEach((s, v) -> constantSlots[s] = v);
    inputSlots = inputNames.stream().mapToInt(slots::get).toArray();
    params = paramList.toArray(new Parameter[0]);
    paramSlots = paramSlotList.stream().mapToInt(Integer::intValue).toArray();
    steps = stepList.toArray(new Step[0]);
    outputSlots = outputNames.stream().mapToInt(slots::get).toArray();
  }

  /** The graph's computing inputs (graph inputs that are not initializers), in order. */
  public List<String> inputNames() {
    return Collections.unmodifiableList(inputNames);
  }

  /** The element types of {@link #inputNames()}. */
  public List<DataType> inputDataTypes() {
    return Collections.unmodifiableList(inputTypes);
  }

  /** Declared input shapes, with -1 for symbolic or unknown dimensions (such as the batch). */
  public List<Shape> declaredInputShapes() {
    return Collections.unmodifiableList(declaredInputShapes);
  }

  /** The graph outputs, in order. */
  public List<String> outputNames() {
    return Collections.unmodifiableList(outputNames);
  }

  /** The normalised model this block was built from (weights as at construction). */
  public ModelProto sourceModel() {
    return model;
  }

  /** The parameter for an initializer name, or null when that initializer is a constant. */
  public Parameter parameter(String initializerName) {
    return parameters.get(initializerName);
  }

  /** Elements of all parameters that receive gradients. */
  public long trainableParameterCount() {
    long n = 0;
    for (Parameter p : params) {
      if (p.requiresGradient()) {
        n += p.getShape().size();
      }
    }
    return n;
  }

  /**
   * Elements of all learnable parameters, trainable or frozen. BatchNorm running statistics are
   * buffers, not parameters, and are not counted (the PyTorch convention).
   */
  public long totalParameterCount() {
    long n = 0;
    for (Parameter p : params) {
      if (p.getType() != Parameter.Type.RUNNING_MEAN && p.getType() != Parameter.Type.RUNNING_VAR) {
        n += p.getShape().size();
      }
    }
    return n;
  }

  /** The graph with every initializer replaced by the current value of its parameter. */
  public ModelProto toModelProto() {
    GraphProto.Builder gb = model.getGraph().toBuilder();
    for (int i = 0; i < gb.getInitializerCount(); i++) {
      TensorProto t = gb.getInitializer(i);
      Parameter p = parameters.get(t.getName());
      if (p != null && p.isInitialized()) {
        float[] values = p.getArray().toType(DataType.FLOAT32, false).toFloatArray();
        gb.setInitializer(i, OnnxTensors.withFloats(t, values));
      }
    }
    return model.toBuilder().setGraph(gb).build();
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore parameterStore,
      NDList inputs,
      boolean training,
      PairList<String, Object> params) {
    Device device = inputs.head().getDevice();
    return execute(inputs, p -> parameterStore.getValue(p, device, training), training);
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    // Shapes never depend on weight values, so a dry run on zeros answers exactly, including the
    // shape subgraphs that no static rule could follow.
    try (NDManager manager = NDManager.newBaseManager()) {
      NDList in = new NDList(inputShapes.length);
      for (int i = 0; i < inputShapes.length; i++) {
        DataType type = i < inputTypes.size() ? inputTypes.get(i) : DataType.FLOAT32;
        in.add(manager.zeros(inputShapes[i], type));
      }
      NDList out = execute(in, p -> manager.zeros(p.getShape()), false);
      Shape[] shapes = new Shape[out.size()];
      for (int i = 0; i < shapes.length; i++) {
        shapes[i] = out.get(i).getShape();
      }
      return shapes;
    }
  }

  @Override
  public void setInitializer(Initializer initializer, Parameter.Type type) {
    // Weights come from the graph; see the class comment.
  }

  @Override
  public void setInitializer(Initializer initializer, String paramName) {
    // Weights come from the graph; see the class comment.
  }

  @Override
  public void setInitializer(Initializer initializer, Predicate<Parameter> predicate) {
    // Weights come from the graph; see the class comment.
  }

  /**
   * Draws this block's dropout masks from a generator of that seed from now on, instead of the
   * engine's process-wide one: two blocks training at once then stay independent and reproducible.
   */
  public void seedDropout(long seed) {
    dropoutRandom = new java.util.SplittableRandom(seed);
  }

  private NDList execute(NDList inputs, Function<Parameter, NDArray> values, boolean training) {
    if (inputs.size() != inputSlots.length) {
      throw new GraftException.InvalidArgument(
          "the ONNX graph takes "
              + inputSlots.length
              + " inputs "
              + inputNames
              + ", got "
              + inputs.size());
    }
    NDManager manager = inputs.head().getManager();
    Object[] slots = constantSlots.clone();
    for (int i = 0; i < inputSlots.length; i++) {
      slots[inputSlots[i]] = inputs.get(i);
    }
    for (int i = 0; i < paramSlots.length; i++) {
      slots[paramSlots[i]] = values.apply(params[i]);
    }
    Kernels.RunContext ctx = new Kernels.RunContext(manager, training, dropoutRandom);
    for (Step step : steps) {
      int[] ins = step.inputs;
      Object[] args = new Object[ins.length];
      for (int k = 0; k < ins.length; k++) {
        args[k] = ins[k] < 0 ? null : slots[ins[k]];
      }
      Object out = step.op.apply(args, ctx);
      if (out instanceof NDArray) {
        NDArray arr = (NDArray) out;
        // Ops whose first operand is a parameter create their result in the parameter's manager;
        // move such results to the batch's manager so they are freed with the batch.
        if (arr.getManager() != manager && !isOneOf(arr, args)) {
          arr.attach(manager);
        }
      }
      slots[step.output] = out;
    }
    NDList result = new NDList(outputSlots.length);
    for (int i = 0; i < outputSlots.length; i++) {
      Object v = slots[outputSlots[i]];
      if (v == null) {
        throw new GraftException.InvalidArgument(
            "graph output '" + outputNames.get(i) + "' is produced by no node");
      }
      result.add(v instanceof HostTensor ? ((HostTensor) v).toNd(manager) : (NDArray) v);
    }
    return result;
  }

  private static boolean isOneOf(Object o, Object[] args) {
    for (Object a : args) {
      if (a == o) {
        return true;
      }
    }
    return false;
  }

  private static Shape declaredShape(ValueInfoProto v) {
    TensorShapeProto s = v.getType().getTensorType().getShape();
    long[] dims = new long[s.getDimCount()];
    for (int i = 0; i < dims.length; i++) {
      TensorShapeProto.Dimension d = s.getDim(i);
      dims[i] = d.hasDimValue() ? d.getDimValue() : -1;
    }
    return new Shape(dims);
  }

  /** Nodes needed for the outputs, in dependency order. */
  private List<NodeProto> executionOrder(GraphProto g) {
    Map<String, Integer> producer = new HashMap<>();
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      for (int k = 0; k < n.getOutputCount(); k++) {
        if (k > 0 && !n.getOutput(k).isEmpty()) {
          rejectExtraOutputUse(g, n, k);
        }
        producer.put(n.getOutput(k), i);
      }
    }
    Set<String> available = new HashSet<>(initializers.keySet());
    available.addAll(inputNames);
    boolean[] needed = new boolean[g.getNodeCount()];
    Deque<String> todo = new ArrayDeque<>(outputNames);
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      String t = todo.pop();
      if (!seen.add(t) || available.contains(t)) {
        continue;
      }
      Integer p = producer.get(t);
      if (p == null) {
        throw new GraftException.InvalidArgument(
            "tensor '" + t + "' is neither a graph input, an initializer nor a node output");
      }
      needed[p] = true;
      for (String in : g.getNode(p).getInputList()) {
        if (!in.isEmpty()) {
          todo.push(in);
        }
      }
    }
    // Kahn's algorithm, stable in the file's node order.
    List<NodeProto> order = new ArrayList<>();
    boolean[] done = new boolean[g.getNodeCount()];
    boolean progress = true;
    while (progress) {
      progress = false;
      for (int i = 0; i < g.getNodeCount(); i++) {
        if (!needed[i] || done[i]) {
          continue;
        }
        NodeProto n = g.getNode(i);
        boolean ready = true;
        for (String in : n.getInputList()) {
          ready &= in.isEmpty() || available.contains(in);
        }
        if (ready) {
          done[i] = true;
          progress = true;
          order.add(n);
          available.addAll(n.getOutputList());
        }
      }
    }
    for (int i = 0; i < needed.length; i++) {
      if (needed[i] && !done[i]) {
        throw new GraftException.InvalidArgument(
            "the ONNX graph has a cycle through node '"
                + OnnxImport.nodeName(g.getNode(i), i)
                + "'");
      }
    }
    return order;
  }

  private void rejectExtraOutputUse(GraphProto g, NodeProto n, int k) {
    String t = n.getOutput(k);
    boolean used = g.getOutputList().stream().anyMatch(v -> v.getName().equals(t));
    for (NodeProto m : g.getNodeList()) {
      used |= m.getInputList().contains(t);
    }
    if (used) {
      throw new GraftException.InvalidArgument(
          n.getOpType()
              + " node '"
              + n.getName()
              + "' uses its output #"
              + k
              + " ('"
              + t
              + "'); only the first output is supported");
    }
  }

  /**
   * The role of each initializer used by the plan: a parameter type, or OTHER for one that only
   * feeds static inputs and so is a constant.
   */
  private Map<String, Parameter.Type> roles(List<NodeProto> plan) {
    Map<String, Parameter.Type> roles = new HashMap<>();
    for (NodeProto n : plan) {
      int[] statics = STATIC_INPUTS.getOrDefault(n.getOpType(), new int[0]);
      for (int k = 0; k < n.getInputCount(); k++) {
        String in = n.getInput(k);
        if (!initializers.containsKey(in)) {
          continue;
        }
        Parameter.Type role = Parameter.Type.WEIGHT;
        if (contains(statics, k)) {
          role = Parameter.Type.OTHER;
        } else if (n.getOpType().equals("BatchNormalization")) {
          role =
              new Parameter.Type[] {
                    Parameter.Type.WEIGHT,
                    Parameter.Type.GAMMA,
                    Parameter.Type.BETA,
                    Parameter.Type.RUNNING_MEAN,
                    Parameter.Type.RUNNING_VAR
                  }
                  [k];
        } else if (k == 2 && (n.getOpType().equals("Conv") || n.getOpType().equals("Gemm"))) {
          role = Parameter.Type.BIAS;
        }
        Parameter.Type before = roles.get(in);
        if (before == null || before == Parameter.Type.OTHER) {
          roles.put(in, role);
        }
      }
    }
    return roles;
  }

  private static boolean contains(int[] a, int v) {
    for (int x : a) {
      if (x == v) {
        return true;
      }
    }
    return false;
  }

  /** Creates a parameter's array from its initializer's values. */
  private static final class GraphInitializer implements Initializer {
    private final TensorProto tensor;

    GraphInitializer(TensorProto tensor) {
      this.tensor = tensor;
    }

    @Override
    public NDArray initialize(NDManager manager, Shape shape, DataType dataType) {
      NDArray a = manager.create(OnnxTensors.floats(tensor), shape);
      return dataType == DataType.FLOAT32 ? a : a.toType(dataType, false);
    }
  }
}
