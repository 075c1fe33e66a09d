package dev.graft.training;

/**
 * Where the frozen backbone's inputs come from: examples by index, as one {@link FeatureBatch}.
 * Images come from a {@link BatchSource}; a text encoder's token tensors come from its tokenizer.
 */
@FunctionalInterface
public interface FeatureInputs {

  /** The examples at {@code indices}, in that order, without augmentation. */
  FeatureBatch batch(int[] indices);

  /** The preprocessed examples of a batch source as the backbone's single float input. */
  static FeatureInputs of(BatchSource source, String inputName) {
    return indices ->
        FeatureBatch.of(
            inputName,
            source.batch(indices, false, null).inputs(),
            indices.length,
            source.exampleShape());
  }
}
