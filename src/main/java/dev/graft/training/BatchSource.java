package dev.graft.training;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.graft.data.DatasetReader;
import dev.graft.data.Preprocessing;
import dev.graft.text.TextExamples;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Where a run's batches come from: the dataset through preprocessing, or cached features. */
interface BatchSource {

  /** Shape of one example as the trained block takes it. */
  long[] exampleShape();

  /** The examples at {@code indices}, augmented when {@code augment} is set. */
  Batch batch(int[] indices, boolean augment, SplittableRandom random);

  /** Texts per inference pass: 32 x 512 tokens stay below a gigabyte of activations. */
  int TEXT_INFERENCE_BATCH = 32;

  /**
   * Row-major inputs [n, ...exampleShape] and their labels; for texts the tokenised batch instead
   * of float inputs.
   */
  record Batch(float[] inputs, int[] labels, TokenBatch tokens) {
    Batch(float[] inputs, int[] labels) {
      this(inputs, labels, null);
    }
  }

  /** The batch as the block's inputs, created in {@code manager}. */
  default NDList arrays(NDManager manager, Batch batch) {
    return new NDList(
        manager.create(
            batch.inputs(),
            new Shape(TrainingLoop.prepend(batch.labels().length, exampleShape()))));
  }

  /**
   * The most examples one inference pass should take (no limit by default). The executor keeps
   * every intermediate tensor of a forward pass, and a transformer's attention grows with the
   * square of the sequence length: 256 texts of 128 tokens hold gigabytes.
   */
  default int inferenceBatchLimit() {
    return Integer.MAX_VALUE;
  }

  /** Input shapes of a batch of one, to initialise a block with. */
  default Shape[] initShapes() {
    return new Shape[] {new Shape(TrainingLoop.prepend(1, exampleShape()))};
  }

  /**
   * Texts tokenised per batch by the model's own tokenizer, padded to the batch's longest text
   * (dynamic padding), as int64 {@code [n, length]} arrays in the order of {@code inputNames}.
   */
  static BatchSource text(TextExamples examples, TextTokenizer tokenizer, List<String> inputNames) {
    List<String> inputs = List.copyOf(inputNames);
    return new BatchSource() {
      @Override
      public long[] exampleShape() {
        return new long[] {-1};
      }

      @Override
      public Batch batch(int[] indices, boolean augment, SplittableRandom random) {
        List<String> texts = new ArrayList<>(indices.length);
        int[] labels = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
          texts.add(examples.text(indices[i]));
          labels[i] = examples.label(indices[i]);
        }
        return new Batch(null, labels, tokenizer.encode(texts));
      }

      @Override
      public NDList arrays(NDManager manager, Batch batch) {
        TokenBatch t = batch.tokens();
        Shape shape = new Shape(t.batch(), t.length());
        NDList list = new NDList(inputs.size());
        for (String name : inputs) {
          list.add(manager.create(t.input(name), shape));
        }
        return list;
      }

      @Override
      public int inferenceBatchLimit() {
        return TEXT_INFERENCE_BATCH;
      }

      @Override
      public Shape[] initShapes() {
        Shape[] shapes = new Shape[inputs.size()];
        java.util.Arrays.fill(shapes, new Shape(1, 2));
        return shapes;
      }
    };
  }

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
