package dev.graft.data;

import dev.graft.core.GraftException;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * A decoded image as exact 8-bit samples, channel first (CHW), 1 (gray) or 3 (RGB) channels. This
 * is the one form in which images are stored and from which {@link Preprocessing} starts, whether
 * the image comes from a dataset file in training or from a request in serving.
 *
 * <p>Gray images keep their stored sample values: {@code BufferedImage.getRGB} would pass them
 * through a linear-to-sRGB conversion (gray 64 reads as 137), so a grayscale PNG of an MNIST digit
 * would no longer match the digit's IDX pixels.
 */
public record Pixels(int channels, int height, int width, byte[] data) {

  public Pixels {
    if (channels != 1 && channels != 3) {
      throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
    }
    if (data.length != channels * height * width) {
      throw new IllegalArgumentException(
          data.length + " samples for " + channels + "x" + height + "x" + width);
    }
  }

  public ImageShape shape() {
    return new ImageShape(channels, height, width);
  }

  /** The sample at channel c, row y, column x, 0..255. */
  public int at(int c, int y, int x) {
    return data[(c * height + y) * width + x] & 0xff;
  }

  /**
   * Decodes a PNG or JPEG. The size is read from the image header first, so that a small file
   * claiming a huge image is refused before it is decoded.
   *
   * @param what names the image in error messages, e.g. "example 17"
   * @param maxSide the largest height or width allowed
   */
  public static Pixels decode(byte[] encoded, String what, int maxSide) {
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(encoded))) {
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      if (readers == null || !readers.hasNext()) {
        throw unreadable(encoded, what, null);
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        int w = reader.getWidth(0);
        int h = reader.getHeight(0);
        if (w > maxSide || h > maxSide) {
          throw new GraftException.ResourceExhausted(
              what
                  + " is "
                  + h
                  + "x"
                  + w
                  + " pixels (height x width); the largest side allowed is "
                  + maxSide
                  + " (graft.data.max-image-side)");
        }
        return of(reader.read(0));
      } finally {
        reader.dispose();
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof GraftException g) {
        throw g;
      }
      throw unreadable(encoded, what, e);
    }
  }

  /** Height and width of an encoded image. */
  public record Size(int height, int width) {
    public long pixels() {
      return (long) height * width;
    }
  }

  /**
   * Reads only the header of a PNG or JPEG: its size, without decoding it (a few kilobytes of PNG
   * can claim gigabytes of pixels).
   */
  public static Size size(byte[] encoded, String what) {
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(encoded))) {
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      if (readers == null || !readers.hasNext()) {
        throw unreadable(encoded, what, null);
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        return new Size(reader.getHeight(0), reader.getWidth(0));
      } finally {
        reader.dispose();
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof GraftException g) {
        throw g;
      }
      throw unreadable(encoded, what, e);
    }
  }

  private static GraftException unreadable(byte[] encoded, String what, Exception cause) {
    String reason = cause == null || cause.getMessage() == null ? "" : ": " + cause.getMessage();
    return new GraftException.InvalidArgument(
        what + " is not a readable PNG or JPEG image (" + encoded.length + " bytes" + reason + ")",
        cause);
  }

  /** Takes the exact samples of a gray image, and the sRGB values of any other. */
  public static Pixels of(BufferedImage image) {
    int w = image.getWidth();
    int h = image.getHeight();
    var model = image.getColorModel();
    if (!(model instanceof IndexColorModel)
        && model.getColorSpace().getType() == ColorSpace.TYPE_GRAY) {
      Raster raster = image.getRaster();
      int bits = model.getComponentSize(0);
      int max = (1 << bits) - 1;
      int[] row = new int[w];
      byte[] out = new byte[h * w];
      for (int y = 0; y < h; y++) {
        raster.getSamples(0, y, w, 1, 0, row);
        for (int x = 0; x < w; x++) {
          int v = bits == 8 ? row[x] : (row[x] * 255 + max / 2) / max;
          out[y * w + x] = (byte) v;
        }
      }
      return new Pixels(1, h, w, out);
    }
    int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
    int plane = h * w;
    byte[] out = new byte[3 * plane];
    for (int i = 0; i < plane; i++) {
      int rgb = argb[i];
      out[i] = (byte) (rgb >> 16);
      out[plane + i] = (byte) (rgb >> 8);
      out[2 * plane + i] = (byte) rgb;
    }
    return new Pixels(3, h, w, out);
  }

  /**
   * The samples as floats 0..255 in {@code targetChannels}: gray is repeated into RGB, RGB becomes
   * gray by ITU-R BT.601 luma (as PIL's convert("L")), unrounded.
   */
  public float[] toFloats(int targetChannels) {
    int plane = height * width;
    float[] out = new float[targetChannels * plane];
    if (targetChannels == channels) {
      for (int i = 0; i < out.length; i++) {
        out[i] = data[i] & 0xff;
      }
    } else if (targetChannels == 3) {
      for (int i = 0; i < plane; i++) {
        float v = data[i] & 0xff;
        out[i] = v;
        out[plane + i] = v;
        out[2 * plane + i] = v;
      }
    } else {
      for (int i = 0; i < plane; i++) {
        out[i] = luma(data[i] & 0xff, data[plane + i] & 0xff, data[2 * plane + i] & 0xff);
      }
    }
    return out;
  }

  static float luma(int r, int g, int b) {
    return (r * 299 + g * 587 + b * 114) / 1000f;
  }

  /** These pixels in {@code targetChannels}, rounded to 8 bits. */
  public Pixels withChannels(int targetChannels) {
    if (targetChannels == channels) {
      return this;
    }
    return new Pixels(targetChannels, height, width, round(toFloats(targetChannels)));
  }

  /** These pixels resized by {@link #bilinear}, rounded to 8 bits. */
  public Pixels resized(int newHeight, int newWidth) {
    if (newHeight == height && newWidth == width) {
      return this;
    }
    float[] resized = bilinear(toFloats(channels), channels, height, width, newHeight, newWidth);
    return new Pixels(channels, newHeight, newWidth, round(resized));
  }

  private static byte[] round(float[] values) {
    byte[] out = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = (byte) Math.max(0, Math.min(255, Math.round(values[i])));
    }
    return out;
  }

  /**
   * Bilinear resize of CHW planes with half-pixel centres and clamped edges (as PyTorch's
   * interpolate with align_corners=False, antialias=False): pure Java, so that every machine
   * computes the same values.
   */
  public static float[] bilinear(float[] src, int channels, int h, int w, int newH, int newW) {
    float[] out = new float[channels * newH * newW];
    double sy = (double) h / newH;
    double sx = (double) w / newW;
    int[] x0 = new int[newW];
    int[] x1 = new int[newW];
    float[] wx = new float[newW];
    for (int ox = 0; ox < newW; ox++) {
      double fx = Math.max(0, (ox + 0.5) * sx - 0.5);
      x0[ox] = Math.min((int) fx, w - 1);
      x1[ox] = Math.min(x0[ox] + 1, w - 1);
      wx[ox] = (float) (fx - x0[ox]);
    }
    for (int c = 0; c < channels; c++) {
      int in = c * h * w;
      int o = c * newH * newW;
      for (int oy = 0; oy < newH; oy++) {
        double fy = Math.max(0, (oy + 0.5) * sy - 0.5);
        int y0 = Math.min((int) fy, h - 1);
        int y1 = Math.min(y0 + 1, h - 1);
        float wy = (float) (fy - y0);
        for (int ox = 0; ox < newW; ox++) {
          float top = src[in + y0 * w + x0[ox]] * (1 - wx[ox]) + src[in + y0 * w + x1[ox]] * wx[ox];
          float bottom =
              src[in + y1 * w + x0[ox]] * (1 - wx[ox]) + src[in + y1 * w + x1[ox]] * wx[ox];
          out[o + oy * newW + ox] = top * (1 - wy) + bottom * wy;
        }
      }
    }
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Pixels p
        && channels == p.channels
        && height == p.height
        && width == p.width
        && java.util.Arrays.equals(data, p.data);
  }

  @Override
  public int hashCode() {
    return java.util.Arrays.hashCode(data) * 31 + channels * 7 + height * 3 + width;
  }

  @Override
  public String toString() {
    return "Pixels[" + channels + "x" + height + "x" + width + "]";
  }
}
