package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.core.GraftException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The float initializers of a graph, each with its role and its block.
 *
 * <p><b>Roles.</b> A float initializer is a {@link Role#WEIGHT} (a learnable parameter) when some
 * node reads it where PyTorch modules keep parameters: Conv/ConvTranspose weight and bias,
 * BatchNormalization/InstanceNormalization/LayerNormalization scale and bias, Gemm and MatMul
 * operands, Add/Sub/Mul/Div operands (biases and LayerNorm affine terms of decomposed layers),
 * Gather data (embeddings), Concat inputs (class tokens), PRelu slope. BatchNormalization's mean
 * and variance (inputs 3 and 4) are {@link Role#STATISTIC}s: they belong to their block but never
 * train. Anything else — rank-0 scalars, Clip bounds, Dropout ratios, Pad values, Pow exponents,
 * initializers read by no node — is a {@link Role#CONSTANT}. Other element types are not listed.
 *
 * <p><b>Blocks.</b> Every initializer has a module path: its name without the last component when
 * the name looks like a PyTorch {@code state_dict} key ({@code layer1.0.conv1.weight} → {@code
 * layer1.0.conv1}); otherwise (such as {@code onnx::Conv_497} after BatchNorm folding, or
 * TensorFlow names) the name of the first node that reads it, where a scoped name {@code
 * /layer1/layer1.0/conv1/Conv} gives {@code layer1.0.conv1} (scopes joined by dots, a scope that
 * already carries its parent's prefix replacing it, the operator dropped) and a plain name is used
 * as is. The block key is taken from the module path either
 *
 * <ul>
 *   <li>automatically ({@link #AUTO_DEPTH}, the default): up to and including the first numeric
 *       component after the first, the index into a {@code Sequential}/{@code ModuleList} ({@code
 *       layer1.0.conv1} → {@code layer1.0}, {@code features.3.conv.0} → {@code features.3}, {@code
 *       bert.encoder.layer.3.attention.self.query} → {@code bert.encoder.layer.3}); without one,
 *       the path without its leaf module ({@code stem.conv} → {@code stem}, {@code
 *       bert.pooler.dense} → {@code bert.pooler}), or the path itself when it has a single
 *       component ({@code conv1}, {@code fc});
 *   <li>or as its first {@code depth} dot-separated components, for a depth ≥ 1.
 * </ul>
 *
 * The built-in architectures are named so that the automatic keys are their blocks ({@code stem},
 * {@code layer2.0}, {@code features.3}, {@code layers.0}). Initializers of a grafted head ({@code
 * head.*}) form the block {@code head}, which is never a backbone block. Blocks are ordered by the
 * first node, in graph (topological) order, that reads one of their weights or statistics.
 */
public final class GraphParameters {

  /** What a float initializer is for. */
  public enum Role {
    /** Learnable. */
    WEIGHT,
    /** BatchNorm running mean or variance: updated by training statistics, never by gradients. */
    STATISTIC,
    /** A fixed value that happens to be stored as an initializer. */
    CONSTANT
  }

  /**
   * A float initializer.
   *
   * @param name initializer name
   * @param shape dimensions
   * @param size number of elements
   * @param role weight, statistic or constant
   * @param block block key, {@code head} for the grafted head
   */
  public record Parameter(String name, List<Long> shape, long size, Role role, String block) {
    public Parameter {
      shape = List.copyOf(shape);
    }
  }

  /** Block depth that selects the automatic block keys. */
  public static final int AUTO_DEPTH = 0;

  /** Block key of the grafted head. */
  public static final String HEAD_BLOCK = "head";

  private static final Pattern STATE_DICT_KEY =
      Pattern.compile("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)+");

  private static final Map<String, Set<Integer>> WEIGHT_INPUTS =
      Map.ofEntries(
          Map.entry("Conv", Set.of(1, 2)),
          Map.entry("ConvTranspose", Set.of(1, 2)),
          Map.entry("BatchNormalization", Set.of(1, 2)),
          Map.entry("InstanceNormalization", Set.of(1, 2)),
          Map.entry("LayerNormalization", Set.of(1, 2)),
          Map.entry("Gemm", Set.of(0, 1, 2)),
          Map.entry("MatMul", Set.of(0, 1)),
          Map.entry("Add", Set.of(0, 1)),
          Map.entry("Sub", Set.of(0, 1)),
          Map.entry("Mul", Set.of(0, 1)),
          Map.entry("Div", Set.of(0, 1)),
          Map.entry("Gather", Set.of(0)),
          Map.entry("PRelu", Set.of(1)));

  private final List<Parameter> parameters;
  private final List<String> blocks;

  private GraphParameters(List<Parameter> parameters, List<String> blocks) {
    this.parameters = List.copyOf(parameters);
    this.blocks = List.copyOf(blocks);
  }

  /** Analyses a graph with automatic block keys. */
  public static GraphParameters of(ModelProto model) {
    return of(model, AUTO_DEPTH);
  }

  /**
   * Analyses a graph with the given block depth: {@link #AUTO_DEPTH} for automatic block keys, or
   * the number of leading name components that make a block key.
   */
  public static GraphParameters of(ModelProto model, int blockDepth) {
    if (blockDepth < 0) {
      throw new GraftException.InvalidArgument(
          "block depth " + blockDepth + " must be 0 (automatic) or a number of name components");
    }
    Map<String, TensorProto> floats = new LinkedHashMap<>();
    for (TensorProto t : model.getGraph().getInitializerList()) {
      if (t.getDataType() == TensorProto.DataType.FLOAT.getNumber()) {
        floats.put(t.getName(), t);
      }
    }
    Map<String, Role> roles = new LinkedHashMap<>();
    Map<String, String> blockOf = new LinkedHashMap<>();
    Set<String> blockOrder = new LinkedHashSet<>();
    for (NodeProto node : model.getGraph().getNodeList()) {
      for (int i = 0; i < node.getInputCount(); i++) {
        String input = node.getInput(i);
        TensorProto t = floats.get(input);
        if (t == null) {
          continue;
        }
        Role role = roleAt(node, i, t);
        roles.merge(input, role, GraphParameters::stronger);
        blockOf.computeIfAbsent(input, name -> blockKey(name, node, blockDepth));
        String block = blockOf.get(input);
        if (role != Role.CONSTANT && !HEAD_BLOCK.equals(block)) {
          blockOrder.add(block);
        }
      }
    }
    List<Parameter> parameters = new ArrayList<>();
    for (TensorProto t : floats.values()) {
      String name = t.getName();
      String block =
          blockOf.getOrDefault(name, GraphSurgery.isHead(name) ? HEAD_BLOCK : modulePath(name));
      parameters.add(
          new Parameter(
              name,
              t.getDimsList(),
              GraphBuilder.elementCount(
                  t.getDimsList().stream().mapToLong(Long::longValue).toArray()),
              roles.getOrDefault(name, Role.CONSTANT),
              block));
    }
    return new GraphParameters(parameters, new ArrayList<>(blockOrder));
  }

  /** All float initializers in graph order. */
  public List<Parameter> all() {
    return parameters;
  }

  /** Names of the learnable parameters (role {@link Role#WEIGHT}). */
  public List<String> weights() {
    return parameters.stream().filter(p -> p.role() == Role.WEIGHT).map(Parameter::name).toList();
  }

  /** Backbone block keys in topological order, the head excluded. */
  public List<String> blocks() {
    return blocks;
  }

  /** Trainable and total counts of learnable values (statistics and constants not counted). */
  public ParameterCounts counts(Collection<String> trainable) {
    long total = 0;
    long trained = 0;
    for (Parameter p : parameters) {
      if (p.role() == Role.WEIGHT) {
        total += p.size();
        if (trainable.contains(p.name())) {
          trained += p.size();
        }
      }
    }
    return new ParameterCounts(trained, total);
  }

  private static Role roleAt(NodeProto node, int index, TensorProto t) {
    if (node.getOpType().equals("BatchNormalization") && (index == 3 || index == 4)) {
      return Role.STATISTIC;
    }
    if (t.getDimsCount() == 0) {
      return Role.CONSTANT;
    }
    boolean learnable =
        node.getOpType().equals("Concat")
            || WEIGHT_INPUTS.getOrDefault(node.getOpType(), Set.of()).contains(index);
    return learnable ? Role.WEIGHT : Role.CONSTANT;
  }

  private static Role stronger(Role a, Role b) {
    if (a == Role.STATISTIC || b == Role.STATISTIC) {
      return Role.STATISTIC;
    }
    return a == Role.WEIGHT || b == Role.WEIGHT ? Role.WEIGHT : Role.CONSTANT;
  }

  private static String blockKey(String initializer, NodeProto node, int depth) {
    if (GraphSurgery.isHead(initializer)) {
      return HEAD_BLOCK;
    }
    String path;
    if (STATE_DICT_KEY.matcher(initializer).matches()) {
      path = modulePath(initializer);
    } else if (node.getName().isEmpty()) {
      path = initializer;
    } else {
      path = scopePath(node.getName());
    }
    return depth == AUTO_DEPTH ? autoKey(path) : firstComponents(path, depth);
  }

  static String autoKey(String modulePath) {
    String[] parts = modulePath.split("\\.", -1);
    for (int i = 1; i < parts.length; i++) {
      if (!parts[i].isEmpty() && parts[i].chars().allMatch(Character::isDigit)) {
        return firstComponents(modulePath, i + 1);
      }
    }
    return parts.length == 1 ? modulePath : firstComponents(modulePath, parts.length - 1);
  }

  private static String firstComponents(String path, int count) {
    String[] parts = path.split("\\.", -1);
    return parts.length <= count ? path : String.join(".", List.of(parts).subList(0, count));
  }

  private static String modulePath(String name) {
    int dot = name.lastIndexOf('.');
    return dot > 0 ? name.substring(0, dot) : name;
  }

  /** {@code /layer1/layer1.0/conv1/Conv} → {@code layer1.0.conv1}; plain names unchanged. */
  static String scopePath(String nodeName) {
    if (!nodeName.contains("/")) {
      return nodeName;
    }
    List<String> scopes = new ArrayList<>();
    for (String s : nodeName.split("/")) {
      if (!s.isEmpty()) {
        scopes.add(s);
      }
    }
    if (scopes.size() <= 1) {
      return scopes.isEmpty() ? nodeName : scopes.get(0);
    }
    String path = "";
    for (String scope : scopes.subList(0, scopes.size() - 1)) {
      if (path.isEmpty() || scope.startsWith(path + ".")) {
        path = scope;
      } else {
        path = path + "." + scope;
      }
    }
    return path;
  }
}
