package dev.graft.training;

import java.util.List;

/**
 * Where the frozen backbone's inputs come from: examples by index, as one {@link FeatureBatch}.
 * Images come from a {@link BatchSource}; a text encoder's token tensors come from its tokenizer.
 */
@FunctionalInterface
public interface FeatureInputs {

  /** The examples at {@code indices}, in that order, without augmentation. */
  FeatureBatch batch(int[] indices);

  /** The most examples one batch should hold (texts: {@link BatchSource#inferenceBatchLimit()}). */
  default int batchLimit() {
    return Integer.MAX_VALUE;
  }

  /**
   * The examples of a batch source as the backbone's inputs: preprocessed images as its single
   * float input, tokenised texts as its int64 token inputs ({@code inputNames}, in graph order).
   */
  static FeatureInputs of(BatchSource source, List<String> inputNames) {
    return new FeatureInputs() {
      @Override
      public FeatureBatch batch(int[] indices) {
        BatchSource.Batch b = source.batch(indices, false, null);
        if (b.tokens() != null) {
          return FeatureBatch.of(b.tokens(), inputNames);
        }
        return FeatureBatch.of(
            inputNames.get(0), b.inputs(), indices.length, source.exampleShape());
      }

      @Override
      public int batchLimit() {
        return source.inferenceBatchLimit();
      }
    };
  }
}
