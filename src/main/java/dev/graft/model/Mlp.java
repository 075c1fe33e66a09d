package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import java.util.List;

/**
 * {@code mlp}: Linear + ReLU layers named {@code layers.0}, {@code layers.1}, … as in an {@code
 * nn.Sequential}. An image input is flattened first (node {@code flatten}). Features: the output of
 * the last ReLU, {@code [N, hiddenSizes.last]}.
 *
 * @param input feature vector or image input
 * @param hiddenSizes widths of the Linear layers, at least one
 */
public record Mlp(InputSpec input, List<Integer> hiddenSizes) implements Architecture {

  public static final String NAME = "mlp";
  public static final String FEATURES = "features";

  public Mlp {
    hiddenSizes = List.copyOf(hiddenSizes);
    if (hiddenSizes.isEmpty() || hiddenSizes.stream().anyMatch(h -> h <= 0)) {
      throw new GraftException.InvalidArgument(
          "mlp hidden sizes " + hiddenSizes + " must be non-empty and positive");
    }
  }

  /** Two hidden layers of 128 and 64 units. */
  public Mlp(InputSpec input) {
    this(input, List.of(128, 64));
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "multi-layer perceptron " + hiddenSizes + " with ReLU on flattened input";
  }

  @Override
  public String featureTensor() {
    return FEATURES;
  }

  @Override
  public ModelProto backbone(long seed) {
    GraphBuilder g = new GraphBuilder(NAME, seed);
    String x = g.input(input.name(), input.dims());
    if (input.isImage()) {
      x = g.flatten("flatten", x);
    }
    int in = Math.toIntExact(input.sampleSize());
    for (int i = 0; i < hiddenSizes.size(); i++) {
      int out = hiddenSizes.get(i);
      x = g.linear("layers." + (2 * i), x, in, out);
      boolean last = i == hiddenSizes.size() - 1;
      String name = "layers." + (2 * i + 1);
      x = g.node("Relu", name, List.of(x), last ? FEATURES : name);
      in = out;
    }
    return g.output(FEATURES, in).build();
  }
}
