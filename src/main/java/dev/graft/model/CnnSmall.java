package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import java.util.List;

/**
 * {@code cnn-small}: blocks {@code features.i} of 3x3 conv (no bias) → BatchNorm → ReLU → 2x2
 * max-pool, then global average pooling ({@code avgpool}) and {@code flatten} into the feature
 * tensor {@code features}, {@code [N, channels.last]}.
 *
 * @param input image input
 * @param channels output channels of each block
 */
public record CnnSmall(InputSpec input, List<Integer> channels) implements Architecture {

  public static final String NAME = "cnn-small";
  public static final String FEATURES = "features";

  public CnnSmall {
    channels = List.copyOf(channels);
    if (!input.isImage()) {
      throw new GraftException.InvalidArgument(
          NAME + " needs an image input [C, H, W], got " + input.shape());
    }
    if (channels.isEmpty() || channels.stream().anyMatch(c -> c <= 0)) {
      throw new GraftException.InvalidArgument(
          NAME + " channels " + channels + " must be non-empty and positive");
    }
    long side = Math.min(input.shape().get(1), input.shape().get(2));
    if (side >> channels.size() < 1) {
      throw new GraftException.InvalidArgument(
          NAME
              + " with "
              + channels.size()
              + " pooling blocks needs inputs of at least "
              + (1 << channels.size())
              + " pixels per side, got "
              + input.shape());
    }
  }

  /** Three blocks of 16, 32 and 64 channels. */
  public CnnSmall(InputSpec input) {
    this(input, List.of(16, 32, 64));
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "conv-BatchNorm-ReLU-maxpool blocks " + channels + " with global average pooling";
  }

  @Override
  public String featureTensor() {
    return FEATURES;
  }

  @Override
  public ModelProto backbone(long seed) {
    GraphBuilder g = new GraphBuilder(NAME, seed);
    String x = g.input(input.name(), input.dims());
    int in = input.channels();
    for (int i = 0; i < channels.size(); i++) {
      String block = "features." + i;
      int out = channels.get(i);
      x = g.conv(block + ".conv", x, in, out, 3, 1);
      x = g.batchNorm(block + ".bn", x, out);
      x = g.relu(block + ".relu", x);
      x = g.maxPool(block + ".pool", x, 2, 2, 0);
      in = out;
    }
    x = g.globalAveragePool("avgpool", x);
    g.flatten("flatten", x, FEATURES);
    return g.output(FEATURES, in).build();
  }
}
