package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;

/**
 * A built-in network, described once and emitted as an ONNX graph.
 *
 * <p>{@link #backbone} is the feature extractor alone, ending at {@link #featureTensor()}; {@link
 * #classifier} adds the default head (one Gemm from the features to {@code logits}, named {@code
 * head.*}) so that a fresh architecture is a complete classifier for pre-training. Graph surgery
 * later cuts at the same feature tensor and grafts a new head. Layer names follow PyTorch module
 * paths so that the automatic block keys of {@link GraphParameters} are the architecture's blocks.
 */
public interface Architecture {

  /** Registry name, such as {@code resnet-mini}. */
  String name();

  /** One line for listings. */
  String description();

  /** What the graph expects as input. */
  InputSpec input();

  /** Tensor at which heads are cut and grafted: {@code [N, features]} for the built-ins. */
  String featureTensor();

  /** The feature extractor with seeded fresh weights; its single output is the feature tensor. */
  ModelProto backbone(long seed);

  /** The head that makes a fresh architecture a classifier: one Linear layer to the logits. */
  default HeadSpec defaultHead(int numClasses) {
    return HeadSpec.linear(numClasses);
  }

  /** The backbone plus the default head: a classifier of {@code numClasses} logits. */
  default ModelProto classifier(int numClasses, long seed) {
    return GraphSurgery.appendHead(backbone(seed), featureTensor(), defaultHead(numClasses), seed);
  }
}
