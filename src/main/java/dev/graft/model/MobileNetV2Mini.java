package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import java.util.List;

/**
 * {@code mobilenetv2-mini}: a small MobileNetV2 named as torchvision's. {@code features.0} is the
 * stem (3x3 conv, BatchNorm, ReLU6); each following {@code features.i} is an inverted residual
 * block whose layers are numbered {@code features.i.conv.k}: a 1x1 expansion conv + BatchNorm +
 * ReLU6 (skipped when the expansion factor is 1), a 3x3 depthwise conv (groups = channels) +
 * BatchNorm + ReLU6, and a linear 1x1 projection conv + BatchNorm, with a residual {@code
 * features.i.add} when stride is 1 and channels are kept. The last {@code features.*} block is a
 * 1x1 conv + BatchNorm + ReLU6 to {@code lastChannels}. Features: global average pooling and
 * flatten, {@code [N, lastChannels]}. ReLU6 is {@code Clip(x, 0, 6)}.
 *
 * @param input image input
 * @param stemChannels output channels of the stem
 * @param settings inverted residual stages
 * @param lastChannels channels of the final 1x1 conv, the feature size
 */
public record MobileNetV2Mini(
    InputSpec input, int stemChannels, List<Stage> settings, int lastChannels)
    implements Architecture {

  public static final String NAME = "mobilenetv2-mini";
  public static final String FEATURES = "features";

  /**
   * One stage of inverted residual blocks, as in the MobileNetV2 paper's table.
   *
   * @param expansion expansion factor t
   * @param channels output channels c
   * @param repeats number of blocks n
   * @param stride stride s of the first block
   */
  public record Stage(int expansion, int channels, int repeats, int stride) {
    public Stage {
      if (expansion < 1 || channels < 1 || repeats < 1 || stride < 1 || stride > 2) {
        throw new GraftException.InvalidArgument(
            "inverted residual stage t="
                + expansion
                + " c="
                + channels
                + " n="
                + repeats
                + " s="
                + stride
                + " needs t, c, n >= 1 and s in {1, 2}");
      }
    }
  }

  public MobileNetV2Mini {
    settings = List.copyOf(settings);
    if (!input.isImage()) {
      throw new GraftException.InvalidArgument(
          NAME + " needs an image input [C, H, W], got " + input.shape());
    }
    if (stemChannels < 1 || lastChannels < 1 || settings.isEmpty()) {
      throw new GraftException.InvalidArgument(
          NAME + " needs positive stem and last channels and at least one stage");
    }
  }

  /** Stem 16, stages (t, c, n, s) = (1,16,1,1), (6,24,2,2), (6,32,2,2), last 64. */
  public MobileNetV2Mini(InputSpec input) {
    this(
        input,
        16,
        List.of(new Stage(1, 16, 1, 1), new Stage(6, 24, 2, 2), new Stage(6, 32, 2, 2)),
        64);
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "MobileNetV2 with inverted residuals, depthwise convs and ReLU6, "
        + settings.size()
        + " stages";
  }

  @Override
  public String featureTensor() {
    return FEATURES;
  }

  @Override
  public ModelProto backbone(long seed) {
    GraphBuilder g = new GraphBuilder(NAME, seed);
    String x = g.input(input.name(), input.dims());
    x = g.conv("features.0.0", x, input.channels(), stemChannels, 3, 1);
    x = g.batchNorm("features.0.1", x, stemChannels);
    x = g.relu6("features.0.2", x);
    int in = stemChannels;
    int index = 1;
    for (Stage stage : settings) {
      for (int r = 0; r < stage.repeats(); r++) {
        int stride = r == 0 ? stage.stride() : 1;
        x =
            invertedResidual(
                g, "features." + index, x, in, stage.channels(), stride, stage.expansion());
        in = stage.channels();
        index++;
      }
    }
    String last = "features." + index;
    x = g.conv(last + ".0", x, in, lastChannels, 1, 1);
    x = g.batchNorm(last + ".1", x, lastChannels);
    x = g.relu6(last + ".2", x);
    x = g.globalAveragePool("avgpool", x);
    g.flatten("flatten", x, FEATURES);
    return g.output(FEATURES, lastChannels).build();
  }

  private static String invertedResidual(
      GraphBuilder g, String name, String x, int in, int out, int stride, int expansion) {
    int hidden = in * expansion;
    int k = 0;
    String y = x;
    if (expansion != 1) {
      y = g.conv(name + ".conv." + k++, y, in, hidden, 1, 1);
      y = g.batchNorm(name + ".conv." + k++, y, hidden);
      y = g.relu6(name + ".conv." + k++, y);
    }
    y = g.conv(name + ".conv." + k++, y, hidden, hidden, 3, stride, 1, hidden, false);
    y = g.batchNorm(name + ".conv." + k++, y, hidden);
    y = g.relu6(name + ".conv." + k++, y);
    y = g.conv(name + ".conv." + k++, y, hidden, out, 1, 1);
    y = g.batchNorm(name + ".conv." + k, y, out);
    if (stride == 1 && in == out) {
      y = g.add(name + ".add", y, x);
    }
    return y;
  }
}
