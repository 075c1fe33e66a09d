package dev.graft.model;

import dev.graft.core.GraftException;
import java.util.List;

/**
 * What a model expects as input: the tensor name, the shape of one sample (without the batch
 * dimension: {@code [C, H, W]} for images, {@code [F]} for feature vectors) and the per-channel
 * normalisation {@code (x - mean) / std} that preprocessing applies before the graph.
 *
 * @param name graph input name
 * @param shape per-sample shape, batch dimension excluded
 * @param mean one value per channel (a single value for feature vectors)
 * @param std one value per channel (a single value for feature vectors), all positive
 */
public record InputSpec(String name, List<Long> shape, List<Float> mean, List<Float> std) {

  /** Name of the graph input of the built-in architectures. */
  public static final String DEFAULT_NAME = "input";

  private static final List<Float> IMAGENET_MEAN = List.of(0.485f, 0.456f, 0.406f);
  private static final List<Float> IMAGENET_STD = List.of(0.229f, 0.224f, 0.225f);

  public InputSpec {
    shape = List.copyOf(shape);
    mean = List.copyOf(mean);
    std = List.copyOf(std);
    if (name == null || name.isBlank()) {
      throw new GraftException.InvalidArgument("input name must not be empty");
    }
    if (shape.size() != 1 && shape.size() != 3) {
      throw new GraftException.InvalidArgument(
          "input shape "
              + shape
              + " must be [features] or [channels, height, width] (batch dimension excluded)");
    }
    for (long d : shape) {
      if (d <= 0) {
        throw new GraftException.InvalidArgument("input shape " + shape + " must be positive");
      }
    }
    int channels = shape.size() == 3 ? Math.toIntExact(shape.get(0)) : 1;
    if (mean.size() != channels || std.size() != channels) {
      throw new GraftException.InvalidArgument(
          "input normalisation needs "
              + channels
              + " mean and std values (one per channel), got mean "
              + mean
              + " std "
              + std);
    }
    for (float s : std) {
      if (!(s > 0f)) {
        throw new GraftException.InvalidArgument("input std " + std + " must be positive");
      }
    }
  }

  /**
   * An image input {@code [channels, height, width]}: ImageNet mean/std for 3 channels, 0.5/0.5
   * (mapping [0, 1] to [-1, 1]) otherwise.
   */
  public static InputSpec image(int channels, int height, int width) {
    List<Float> mean = channels == 3 ? IMAGENET_MEAN : repeat(0.5f, channels);
    List<Float> std = channels == 3 ? IMAGENET_STD : repeat(0.5f, channels);
    return new InputSpec(
        DEFAULT_NAME, List.of((long) channels, (long) height, (long) width), mean, std);
  }

  /** A feature-vector input {@code [size]} used as is (mean 0, std 1). */
  public static InputSpec features(int size) {
    return new InputSpec(DEFAULT_NAME, List.of((long) size), List.of(0f), List.of(1f));
  }

  /** Whether the input is an image {@code [C, H, W]} rather than a feature vector. */
  public boolean isImage() {
    return shape.size() == 3;
  }

  /** Channels of an image input, 1 for a feature vector. */
  public int channels() {
    return isImage() ? Math.toIntExact(shape.get(0)) : 1;
  }

  /** Number of values in one sample. */
  public long sampleSize() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** The per-sample shape as an array, for the graph builder. */
  public long[] dims() {
    return shape.stream().mapToLong(Long::longValue).toArray();
  }

  private static List<Float> repeat(float value, int times) {
    Float[] values = new Float[times];
    java.util.Arrays.fill(values, value);
    return List.of(values);
  }
}
