package dev.graft.training;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.data.Preprocessing;
import dev.graft.model.FreezeSpec;
import java.util.List;

/**
 * What a run trains: the grafted graph (backbone + new head), where it was cut, how inputs are
 * preprocessed, and which initializers train in each phase.
 *
 * @param graph the full graph, input to {@code logits}
 * @param featureTensor the backbone's output, where the head was grafted
 * @param preprocessing image preprocessing; null for feature-vector models
 * @param inputShape shape of one example (without the batch dimension)
 * @param freeze which initializers train in the main phase
 * @param headFirst for GRADUAL: the freeze spec of the head-only first epochs; else null
 * @param baseModelName base model it derives from ("" for pre-training)
 * @param labels class labels in output order
 * @param text for a text encoder: tokenizer, max length and token inputs; else null
 */
record GraftedModel(
    ModelProto graph,
    String featureTensor,
    Preprocessing preprocessing,
    long[] inputShape,
    FreezeSpec freeze,
    FreezeSpec headFirst,
    String baseModelName,
    List<String> labels,
    TextInput text) {

  GraftedModel(
      ModelProto graph,
      String featureTensor,
      Preprocessing preprocessing,
      long[] inputShape,
      FreezeSpec freeze,
      FreezeSpec headFirst,
      String baseModelName,
      List<String> labels) {
    this(
        graph,
        featureTensor,
        preprocessing,
        inputShape,
        freeze,
        headFirst,
        baseModelName,
        labels,
        null);
  }

  /** The freeze spec in force during epoch {@code epoch} (0-based). */
  FreezeSpec freezeAt(int epoch, int headEpochs) {
    return headFirst != null && epoch < headEpochs ? headFirst : freeze;
  }
}
