package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import java.util.List;

/**
 * {@code resnet-mini}: a small ResNet with BasicBlocks, named as torchvision's ResNet. A stem
 * ({@code stem.conv}, {@code stem.bn}, {@code stem.relu}: 3x3 conv, stride 1), then stages {@code
 * layer1…} whose blocks {@code layerS.B} are conv1-bn1-relu1-conv2-bn2, plus a shortcut that is the
 * identity when shape is kept and a 1x1 strided conv + BatchNorm ({@code layerS.B.downsample.0/1})
 * when channels or resolution change, then {@code add} and {@code relu2}. Every stage after the
 * first halves the resolution. Features: global average pooling and flatten, {@code [N,
 * widths.last]}.
 *
 * @param input image input
 * @param widths channels of each stage
 * @param blocks BasicBlocks in each stage
 */
public record ResNetMini(InputSpec input, List<Integer> widths, List<Integer> blocks)
    implements Architecture {

  public static final String NAME = "resnet-mini";
  public static final String FEATURES = "features";

  public ResNetMini {
    widths = List.copyOf(widths);
    blocks = List.copyOf(blocks);
    if (!input.isImage()) {
      throw new GraftException.InvalidArgument(
          NAME + " needs an image input [C, H, W], got " + input.shape());
    }
    if (widths.isEmpty()
        || widths.size() != blocks.size()
        || widths.stream().anyMatch(w -> w <= 0)
        || blocks.stream().anyMatch(b -> b <= 0)) {
      throw new GraftException.InvalidArgument(
          NAME
              + " widths "
              + widths
              + " and blocks "
              + blocks
              + " must be positive and of the same non-zero length");
    }
  }

  /** Three stages of 16, 32 and 64 channels with one BasicBlock each. */
  public ResNetMini(InputSpec input) {
    this(input, List.of(16, 32, 64), List.of(1, 1, 1));
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "ResNet with BasicBlocks, stage widths " + widths + ", blocks " + blocks;
  }

  @Override
  public String featureTensor() {
    return FEATURES;
  }

  @Override
  public ModelProto backbone(long seed) {
    GraphBuilder g = new GraphBuilder(NAME, seed);
    String x = g.input(input.name(), input.dims());
    int in = widths.get(0);
    x = g.conv("stem.conv", x, input.channels(), in, 3, 1);
    x = g.batchNorm("stem.bn", x, in);
    x = g.relu("stem.relu", x);
    for (int s = 0; s < widths.size(); s++) {
      int out = widths.get(s);
      for (int b = 0; b < blocks.get(s); b++) {
        int stride = s > 0 && b == 0 ? 2 : 1;
        x = basicBlock(g, "layer" + (s + 1) + "." + b, x, in, out, stride);
        in = out;
      }
    }
    x = g.globalAveragePool("avgpool", x);
    g.flatten("flatten", x, FEATURES);
    return g.output(FEATURES, in).build();
  }

  private static String basicBlock(
      GraphBuilder g, String name, String x, int in, int out, int stride) {
    String y = g.conv(name + ".conv1", x, in, out, 3, stride);
    y = g.batchNorm(name + ".bn1", y, out);
    y = g.relu(name + ".relu1", y);
    y = g.conv(name + ".conv2", y, out, out, 3, 1);
    y = g.batchNorm(name + ".bn2", y, out);
    String shortcut = x;
    if (stride != 1 || in != out) {
      shortcut = g.conv(name + ".downsample.0", x, in, out, 1, stride);
      shortcut = g.batchNorm(name + ".downsample.1", shortcut, out);
    }
    y = g.add(name + ".add", y, shortcut);
    return g.relu(name + ".relu2", y);
  }
}
