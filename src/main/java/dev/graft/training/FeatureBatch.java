package dev.graft.training;

import dev.graft.text.TokenBatch;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One batch of named backbone inputs, row-major with the batch first: a float image or feature
 * tensor for the built-in architectures, or the int64 token tensors of a text encoder ({@code
 * input_ids}, {@code attention_mask}, {@code token_type_ids}, right-padded {@code [batch, seq]}).
 * Both feature engines take it as it is.
 *
 * @param size examples in the batch (the first dimension of every tensor)
 * @param inputs tensors by graph input name, in the order given
 */
public record FeatureBatch(int size, Map<String, Tensor> inputs) {

  /**
   * One input tensor: exactly one of {@code floats} and {@code longs} is set.
   *
   * @param shape dimensions, batch first
   * @param floats float32 values, or null
   * @param longs int64 values, or null
   */
  public record Tensor(long[] shape, float[] floats, long[] longs) {
    public Tensor {
      if ((floats == null) == (longs == null)) {
        throw new IllegalArgumentException("a tensor holds either floats or longs");
      }
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      long have = floats != null ? floats.length : longs.length;
      if (n != have) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(shape) + " needs " + n + " values, got " + have);
      }
    }

    public static Tensor of(float[] values, long... shape) {
      return new Tensor(shape, values, null);
    }

    public static Tensor of(long[] values, long... shape) {
      return new Tensor(shape, null, values);
    }
  }

  public FeatureBatch {
    inputs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
    if (inputs.isEmpty()) {
      throw new IllegalArgumentException("a feature batch needs at least one input");
    }
    for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
      long[] shape = e.getValue().shape();
      if (shape.length == 0 || shape[0] != size) {
        throw new IllegalArgumentException(
            "input '"
                + e.getKey()
                + "' has shape "
                + Arrays.toString(shape)
                + ", expected "
                + size
                + " rows first");
      }
    }
  }

  /** A single float input: images or feature vectors, {@code [size, ...exampleShape]}. */
  public static FeatureBatch of(String name, float[] values, int size, long[] exampleShape) {
    long[] shape = new long[exampleShape.length + 1];
    shape[0] = size;
    System.arraycopy(exampleShape, 0, shape, 1, exampleShape.length);
    return new FeatureBatch(size, Map.of(name, Tensor.of(values, shape)));
  }

  /**
   * Tokenised texts as the named int64 inputs (a subset of {@code input_ids}, {@code
   * attention_mask}, {@code token_type_ids}: those the encoder declares).
   */
  public static FeatureBatch of(TokenBatch tokens, List<String> inputNames) {
    Map<String, Tensor> inputs = new LinkedHashMap<>();
    for (String name : inputNames) {
      inputs.put(name, Tensor.of(tokens.input(name), tokens.batch(), tokens.length()));
    }
    return new FeatureBatch(tokens.batch(), inputs);
  }

  /** The first {@code n} examples of this batch. */
  public FeatureBatch head(int n) {
    if (n >= size) {
      return this;
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
      Tensor t = e.getValue();
      long[] shape = t.shape().clone();
      int row = 1;
      for (int i = 1; i < shape.length; i++) {
        row *= (int) shape[i];
      }
      shape[0] = n;
      out.put(
          e.getKey(),
          t.floats() != null
              ? Tensor.of(Arrays.copyOf(t.floats(), n * row), shape)
              : Tensor.of(Arrays.copyOf(t.longs(), n * row), shape));
    }
    return new FeatureBatch(n, out);
  }
}
