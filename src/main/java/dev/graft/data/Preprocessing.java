package dev.graft.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.core.GraftException;
import java.awt.image.BufferedImage;
import java.util.Arrays;

/**
 * How an image becomes the network's input tensor, declared by each base model and written into
 * every exported model's metadata, so that training and serving apply exactly the same steps:
 * decode to exact 8-bit samples ({@link Pixels}), convert to {@code channels} (1 = luminance, 3 =
 * RGB), resize to {@code height} x {@code width} (bilinear, {@link Pixels#bilinear}) when the size
 * differs, multiply by {@code scale}, then per channel {@code (x - mean[c]) / std[c]}. The result
 * is CHW float32.
 */
public record Preprocessing(
    int channels, int height, int width, float scale, float[] mean, float[] std) {

  /** The metadata_props key under which exported ONNX models carry this. */
  public static final String METADATA_KEY = "graft.preprocessing";

  private static final ObjectMapper JSON = new ObjectMapper();

  public Preprocessing {
    if (channels != 1 && channels != 3) {
      throw new GraftException.InvalidArgument(
          "preprocessing channels must be 1 (grayscale) or 3 (RGB), got " + channels);
    }
    if (height < 1 || width < 1 || height > 4096 || width > 4096) {
      throw new GraftException.InvalidArgument(
          "preprocessing size " + height + "x" + width + " is out of range 1..4096");
    }
    if (mean.length != channels || std.length != channels) {
      throw new GraftException.InvalidArgument(
          "preprocessing mean and std need one value per channel ("
              + channels
              + "), got "
              + mean.length
              + " and "
              + std.length);
    }
    for (float s : std) {
      if (!(s > 0)) {
        throw new GraftException.InvalidArgument("preprocessing std must be > 0, got " + s);
      }
    }
    mean = mean.clone();
    std = std.clone();
  }

  /** Pixels scaled to [0, 1], no normalisation. */
  public static Preprocessing unitScale(int channels, int height, int width) {
    float[] zeros = new float[channels];
    float[] ones = new float[channels];
    Arrays.fill(ones, 1f);
    return new Preprocessing(channels, height, width, 1f / 255f, zeros, ones);
  }

  /** Number of floats of one preprocessed image. */
  public int size() {
    return channels * height * width;
  }

  /**
   * Decodes a PNG or JPEG and preprocesses it; a corrupt image is an INVALID_ARGUMENT. The caller
   * has checked its size from the header ({@link Pixels#size}): serving through its pixel budget.
   */
  public float[] apply(byte[] encoded, String what) {
    return apply(Pixels.decode(encoded, what, Integer.MAX_VALUE));
  }

  /** Preprocesses a decoded image into CHW floats. */
  public float[] apply(BufferedImage image) {
    return apply(Pixels.of(image));
  }

  /**
   * Preprocesses exact 8-bit samples into CHW floats: channel conversion, {@link Pixels#bilinear}
   * resize when the size differs, scale and normalisation. Training (from stored datasets) and
   * serving (from decoded requests) both come through here.
   */
  public float[] apply(Pixels pixels) {
    float[] out = pixels.toFloats(channels);
    if (pixels.height() != height || pixels.width() != width) {
      out = Pixels.bilinear(out, channels, pixels.height(), pixels.width(), height, width);
    }
    normaliseInPlace(out);
    return out;
  }

  /** Normalises raw pixel values already laid out as CHW (e.g. from IDX files) in place. */
  public void normaliseInPlace(float[] chwPixels) {
    int plane = height * width;
    for (int i = 0; i < chwPixels.length; i++) {
      chwPixels[i] = normalise(chwPixels[i], i / plane);
    }
  }

  private float normalise(float pixel, int channel) {
    return (pixel * scale - mean[channel]) / std[channel];
  }

  /** JSON form, as stored in model metadata and the database. */
  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  public static Preprocessing fromJson(String json) {
    try {
      return JSON.readValue(json, Preprocessing.class);
    } catch (JsonProcessingException e) {
      throw new GraftException.InvalidArgument(
          "preprocessing '" + json + "' is not valid: " + e.getOriginalMessage());
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Preprocessing p
        && channels == p.channels
        && height == p.height
        && width == p.width
        && Float.compare(scale, p.scale) == 0
        && Arrays.equals(mean, p.mean)
        && Arrays.equals(std, p.std);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(new float[] {channels, height, width, scale})
        + 31 * Arrays.hashCode(mean)
        + 961 * Arrays.hashCode(std);
  }

  @Override
  public String toString() {
    return toJson();
  }
}
