package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where a head can be grafted onto a backbone: after each of its blocks (the blocks {@link
 * FreezeSpec#lastBlocks} counts, see {@link GraphParameters}), the last one ending at the base
 * model's own feature tensor.
 *
 * <p>The output of block {@code i} is the tensor that enters block {@code i + 1}: the first data
 * input (not an initializer, not a Constant's output) of the first node, in graph order, that reads
 * a weight or statistic of block {@code i + 1}. The last block's output is the feature tensor. A
 * block whose entering tensor is a graph input, or a tensor already listed, adds no cut point; so
 * does a tensor whose per-sample shape is not {@code [F]}, {@code [T, H]} or {@code [C, H, W]} with
 * a fixed feature size. Features at a cut point are pooled as a grafted head pools them: {@code [C,
 * H, W]} by global average pooling to {@code [C]}, {@code [T, H]} by the mean over {@code T}
 * (masked by {@code attention_mask} when the graph takes one, as {@link EncoderSurgery} pools a
 * text encoder's hidden states).
 */
public final class CutPoints {

  /**
   * One cut point.
   *
   * @param name the block it follows (what clients pass; the tensor name is accepted too)
   * @param tensor the tensor the head is grafted at
   * @param shape per-sample shape of the tensor before pooling
   * @param last whether it is the base model's own feature tensor
   */
  public record CutPoint(String name, String tensor, List<Long> shape, boolean last) {
    public CutPoint {
      shape = List.copyOf(shape);
    }

    /** Features after pooling: C of [C, H, W], H of [T, H], F of [F]. */
    public int featureSize() {
      return Math.toIntExact(shape.get(shape.size() == 2 ? 1 : 0));
    }
  }

  private CutPoints() {}

  /**
   * The cut points of {@code backbone}, in graph order.
   *
   * @param backbone the base model cut at its feature tensor ({@link GraphSurgery#cut})
   * @param featureTensor the base model's feature tensor
   */
  public static List<CutPoint> of(ModelProto backbone, String featureTensor) {
    GraphParameters params = GraphParameters.of(backbone);
    List<String> blocks = params.blocks();
    Map<String, String> blockOf = new HashMap<>();
    for (GraphParameters.Parameter p : params.all()) {
      if (p.role() != GraphParameters.Role.CONSTANT
          && !GraphParameters.HEAD_BLOCK.equals(p.block())) {
        blockOf.put(p.name(), p.block());
      }
    }
    Set<String> initializers = new HashSet<>();
    for (TensorProto t : backbone.getGraph().getInitializerList()) {
      initializers.add(t.getName());
    }
    Set<String> constants = new HashSet<>();
    Map<String, String> entering = new LinkedHashMap<>();
    Set<String> seen = new HashSet<>();
    for (NodeProto node : backbone.getGraph().getNodeList()) {
      if (node.getOpType().equals("Constant")) {
        constants.addAll(node.getOutputList());
        continue;
      }
      String block = null;
      for (String input : node.getInputList()) {
        block = blockOf.get(input);
        if (block != null) {
          break;
        }
      }
      if (block == null || !seen.add(block)) {
        continue;
      }
      for (String input : node.getInputList()) {
        if (!input.isEmpty() && !initializers.contains(input) && !constants.contains(input)) {
          entering.put(block, input);
          break;
        }
      }
    }
    Set<String> computed = new HashSet<>(GraphSurgery.nodeOutputs(backbone));
    List<String> names = new ArrayList<>();
    List<String> tensors = new ArrayList<>();
    for (int i = 0; i + 1 < blocks.size(); i++) {
      String t = entering.get(blocks.get(i + 1));
      if (t != null && computed.contains(t) && !tensors.contains(t) && !t.equals(featureTensor)) {
        names.add(blocks.get(i));
        tensors.add(t);
      }
    }
    names.add(blocks.isEmpty() ? featureTensor : blocks.get(blocks.size() - 1));
    tensors.add(featureTensor);
    Map<String, long[]> shapes = GraphSurgery.featureShapes(backbone, tensors);
    List<CutPoint> out = new ArrayList<>();
    for (int i = 0; i < tensors.size(); i++) {
      long[] shape = shapes.get(tensors.get(i));
      boolean last = i == tensors.size() - 1;
      if (last || usable(shape)) {
        List<Long> dims = new ArrayList<>();
        for (long d : shape) {
          dims.add(d);
        }
        out.add(new CutPoint(names.get(i), tensors.get(i), dims, last));
      }
    }
    return List.copyOf(out);
  }

  /**
   * The cut point a client named, by block name or tensor name; the empty name is the feature
   * tensor.
   *
   * @throws GraftException.InvalidArgument for an unknown name, listing the valid ones
   */
  public static CutPoint resolve(List<CutPoint> cuts, String name, String baseModel) {
    if (name == null || name.isEmpty()) {
      return cuts.get(cuts.size() - 1);
    }
    for (CutPoint c : cuts) {
      if (c.name().equals(name)) {
        return c;
      }
    }
    for (CutPoint c : cuts) {
      if (c.tensor().equals(name)) {
        return c;
      }
    }
    throw new GraftException.InvalidArgument(
        "cut point '"
            + name
            + "' is not one of base model '"
            + baseModel
            + "': use one of "
            + describe(cuts)
            + " (block names; their tensor names are accepted too)");
  }

  /** "features.0 (tensor features.0.pool, 16 features), …" */
  public static String describe(List<CutPoint> cuts) {
    List<String> parts = new ArrayList<>();
    for (CutPoint c : cuts) {
      parts.add(c.name() + " (tensor " + c.tensor() + ", " + c.featureSize() + " features)");
    }
    return String.join(", ", parts);
  }

  /**
   * A graph whose outputs are the pooled features of every cut point, {@code [N, featureSize]}
   * each, named {@code probe.<i>.features} in the order of {@code cuts}: the backbone runs once for
   * all of them.
   */
  public static ModelProto pooledOutputs(ModelProto backbone, List<CutPoint> cuts) {
    ModelProto pruned =
        GraphSurgery.pruneTo(backbone, cuts.stream().map(CutPoint::tensor).toList());
    GraphBuilder g = GraphBuilder.extend(pruned, 0);
    String maskExpanded = null;
    String count = null;
    Optional<ValueInfoProto> mask =
        backbone.getGraph().getInputList().stream()
            .filter(v -> v.getName().equals(EncoderSurgery.ATTENTION_MASK))
            .findFirst();
    for (int i = 0; i < cuts.size(); i++) {
      CutPoint c = cuts.get(i);
      String prefix = "probe." + i;
      String x = c.tensor();
      switch (c.shape().size()) {
        case 3:
          x = g.globalAveragePool(prefix + ".pool", x);
          g.flatten(prefix + ".flatten", x, prefix + ".features");
          break;
        case 2:
          if (mask.isEmpty()) {
            g.reduceMean(prefix + ".features", x, new long[] {1}, false);
            break;
          }
          // A text encoder's hidden states: masked mean pooling, as EncoderSurgery pools them.
          if (maskExpanded == null) {
            if (!g.hasTensor(EncoderSurgery.ATTENTION_MASK)) {
              g.input(mask.get());
            }
            String maskFloat =
                g.node(
                    "Cast",
                    "probe.mask",
                    List.of(EncoderSurgery.ATTENTION_MASK),
                    "probe.mask",
                    GraphBuilder.attr("to", TensorProto.DataType.FLOAT_VALUE));
            maskExpanded =
                g.node(
                    "Unsqueeze",
                    "probe.mask_expanded",
                    List.of(
                        maskFloat,
                        g.int64Initializer("probe.last_axis", new long[] {1}, new long[] {-1})),
                    "probe.mask_expanded");
            g.int64Initializer("probe.sequence_axis", new long[] {1}, new long[] {1});
            String sum =
                g.node(
                    "ReduceSum",
                    "probe.count",
                    List.of(maskExpanded, "probe.sequence_axis"),
                    "probe.count",
                    GraphBuilder.attr("keepdims", 0));
            count =
                g.node(
                    "Clip",
                    "probe.count_clamped",
                    List.of(sum, g.scalar("probe.min_count", 1e-9f)),
                    "probe.count_clamped");
          }
          String masked =
              g.node("Mul", prefix + ".masked", List.of(x, maskExpanded), prefix + ".masked");
          String summed =
              g.node(
                  "ReduceSum",
                  prefix + ".sum",
                  List.of(masked, "probe.sequence_axis"),
                  prefix + ".sum",
                  GraphBuilder.attr("keepdims", 0));
          g.node("Div", prefix + ".features", List.of(summed, count), prefix + ".features");
          break;
        default:
          g.node("Identity", prefix + ".features", List.of(x), prefix + ".features");
      }
      g.output(prefix + ".features", c.featureSize());
    }
    return g.build();
  }

  /** The name of the pooled output of cut point {@code i} in {@link #pooledOutputs}. */
  public static String pooledOutput(int i) {
    return "probe." + i + ".features";
  }

  private static boolean usable(long[] shape) {
    if (shape.length < 1 || shape.length > 3) {
      return false;
    }
    return shape[shape.length == 2 ? 1 : 0] > 0;
  }
}
