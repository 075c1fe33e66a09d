package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import java.util.List;

/**
 * Graph surgery for transformer encoders (BERT family): a sentence embedding by masked mean pooling
 * of the hidden states, exactly as sentence-transformers computes it ({@code sum(h * mask, 1) /
 * clamp(sum(mask, 1), min=1e-9)}), optionally L2-normalised ({@code F.normalize(p=2, dim=1,
 * eps=1e-12)}), then the usual classification head of {@link GraphSurgery#appendHead}. Padding
 * tokens therefore never change a text's embedding, which a plain mean over the sequence would.
 *
 * <p>The pooling nodes ({@code pool.*}) hold no weights: they belong to the backbone, so that a
 * frozen encoder's pooled features can be cached and the head ({@code head.*}) trains on them. The
 * graph's inputs stay the encoder's token inputs ({@code input_ids}, {@code attention_mask}, and
 * {@code token_type_ids} when the encoder reads it); its only output is {@link
 * GraphSurgery#LOGITS}, so unused encoder outputs (the pooler's, for instance) are dropped.
 */
public final class EncoderSurgery {

  /** Prefix of the pooling nodes and their constants. */
  public static final String POOL_PREFIX = "pool.";

  /** The pooled sentence embedding {@code [N, H]}: where the head is grafted. */
  public static final String POOLED = "sentence_embedding";

  /** The encoder input that marks real tokens (1) and padding (0). */
  public static final String ATTENTION_MASK = "attention_mask";

  private EncoderSurgery() {}

  /**
   * The encoder cut at {@code hiddenTensor} ({@code [N, S, H]}) with masked mean pooling appended;
   * output {@link #POOLED} {@code [N, H]}.
   *
   * @param normalize whether the pooled embedding is divided by its L2 norm
   * @throws GraftException.InvalidArgument if the tensor is not {@code [N, S, H]} with a fixed H or
   *     the graph has no {@code attention_mask} input
   */
  public static ModelProto pool(ModelProto encoder, String hiddenTensor, boolean normalize) {
    ModelProto cut = GraphSurgery.cut(encoder, hiddenTensor);
    List<TensorShapeProto.Dimension> dims =
        cut.getGraph().getOutput(0).getType().getTensorType().getShape().getDimList();
    if (dims.size() != 3 || !dims.get(2).hasDimValue()) {
      throw new GraftException.InvalidArgument(
          "hidden states "
              + hiddenTensor
              + " must be [batch, sequence, hidden] with a fixed hidden size to be mean-pooled");
    }
    ValueInfoProto mask =
        encoder.getGraph().getInputList().stream()
            .filter(v -> v.getName().equals(ATTENTION_MASK))
            .findFirst()
            .orElseThrow(
                () ->
                    new GraftException.InvalidArgument(
                        "encoder graph '"
                            + encoder.getGraph().getName()
                            + "' has no input "
                            + ATTENTION_MASK
                            + "; masked mean pooling needs it"));
    long hidden = dims.get(2).getDimValue();
    GraphBuilder g = GraphBuilder.extend(cut, 0);
    if (!g.hasTensor(ATTENTION_MASK)) {
      g.input(mask); // the encoder itself may not read the mask; pooling does
    }
    String p = POOL_PREFIX;
    String maskFloat =
        g.node(
            "Cast",
            p + "mask",
            List.of(ATTENTION_MASK),
            p + "mask",
            GraphBuilder.attr("to", TensorProto.DataType.FLOAT_VALUE));
    String expanded =
        g.node(
            "Unsqueeze",
            p + "mask_expanded",
            List.of(
                maskFloat, g.int64Initializer(p + "last_axis", new long[] {1}, new long[] {-1})),
            p + "mask_expanded");
    String masked = g.node("Mul", p + "masked", List.of(hiddenTensor, expanded), p + "masked");
    String sequenceAxis = g.int64Initializer(p + "sequence_axis", new long[] {1}, new long[] {1});
    String sum =
        g.node(
            "ReduceSum",
            p + "sum",
            List.of(masked, sequenceAxis),
            p + "sum",
            GraphBuilder.attr("keepdims", 0));
    String count =
        g.node(
            "ReduceSum",
            p + "count",
            List.of(expanded, sequenceAxis),
            p + "count",
            GraphBuilder.attr("keepdims", 0));
    String clamped =
        g.node(
            "Clip",
            p + "count_clamped",
            List.of(count, g.scalar(p + "min_count", 1e-9f)),
            p + "count_clamped");
    String mean = normalize ? p + "mean" : POOLED;
    g.node("Div", p + "mean", List.of(sum, clamped), mean);
    if (normalize) {
      String square = g.node("Mul", p + "square", List.of(mean, mean), p + "square");
      String squares =
          g.node(
              "ReduceSum",
              p + "square_sum",
              List.of(square, sequenceAxis), // axis 1 of [N, H] is the hidden axis
              p + "square_sum",
              GraphBuilder.attr("keepdims", 1));
      String norm = g.node("Sqrt", p + "norm", List.of(squares), p + "norm");
      String normClamped =
          g.node(
              "Clip",
              p + "norm_clamped",
              List.of(norm, g.scalar(p + "min_norm", 1e-12f)),
              p + "norm_clamped");
      g.node("Div", p + "normalize", List.of(mean, normClamped), POOLED);
    }
    return g.output(POOLED, hidden).build();
  }

  /**
   * The encoder's text classifier: {@link #pool} then {@link GraphSurgery#appendHead} at {@link
   * #POOLED}, with the head initialised from {@code seed}.
   */
  public static ModelProto appendHead(
      ModelProto encoder, String hiddenTensor, boolean normalize, HeadSpec head, long seed) {
    return GraphSurgery.appendHead(pool(encoder, hiddenTensor, normalize), POOLED, head, seed);
  }

  /** Whether the graph reads {@code token_type_ids} (BERT does, DistilBERT does not). */
  public static boolean readsTokenTypes(ModelProto model) {
    return model.getGraph().getInputList().stream()
        .anyMatch(v -> v.getName().equals("token_type_ids"));
  }
}
