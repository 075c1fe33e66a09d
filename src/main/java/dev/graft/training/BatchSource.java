package dev.graft.training;

import dev.graft.data.DatasetReader;
import dev.graft.data.Preprocessing;
import java.util.SplittableRandom;

/** Where a run's batches come from: the dataset through preprocessing, or cached features. */
interface BatchSource {

  /** Shape of one example as the trained block takes it. */
  long[] exampleShape();

  /** The examples at {@code indices}, augmented when {@code augment} is set. */
  Batch batch(int[] indices, boolean augment, SplittableRandom random);

  /** Row-major inputs [n, ...exampleShape] and their labels. */
  record Batch(float[] inputs, int[] labels) {}

  /** Examples read from the dataset file and preprocessed as the model declares. */
  static BatchSource of(
      DatasetReader reader, Preprocessing preprocessing, boolean crop, boolean flip) {
    long[] shape = reader.inputShape(preprocessing);
    return new BatchSource() {
      @Override
      public long[] exampleShape() {
        return shape;
      }

      @Override
      public Batch batch(int[] indices, boolean augment, SplittableRandom random) {
        DatasetReader.Batch b = reader.batch(indices, preprocessing);
        if (augment && shape.length == 3 && (crop || flip)) {
          Augmentation.apply(b.inputs(), indices.length, shape, crop, flip, random);
        }
        return new Batch(b.inputs(), b.labels());
      }
    };
  }

  /** Features computed once by the frozen backbone, by example index. */
  static BatchSource cached(float[][] featuresByExample, int[] labels, long[] featureShape) {
    int size = 1;
    for (long d : featureShape) {
      size *= (int) d;
    }
    int rowSize = size;
    return new BatchSource() {
      @Override
      public long[] exampleShape() {
        return featureShape;
      }

      @Override
      public Batch batch(int[] indices, boolean augment, SplittableRandom random) {
        float[] x = new float[indices.length * rowSize];
        int[] y = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
          System.arraycopy(featuresByExample[indices[i]], 0, x, i * rowSize, rowSize);
          y[i] = labels[indices[i]];
        }
        return new Batch(x, y);
      }
    };
  }
}
