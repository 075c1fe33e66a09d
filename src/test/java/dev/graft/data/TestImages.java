package dev.graft.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import javax.imageio.ImageIO;

/** Encodes test images as PNG or JPEG, exactly as given. */
public final class TestImages {

  private TestImages() {}

  /** A PNG of these pixels: 8-bit gray for one channel, RGB for three. */
  public static byte[] png(Pixels p) {
    return encode(image(p), "png");
  }

  public static byte[] jpeg(Pixels p) {
    return encode(image(p), "jpg");
  }

  public static BufferedImage image(Pixels p) {
    BufferedImage image =
        new BufferedImage(
            p.width(),
            p.height(),
            p.channels() == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < p.height(); y++) {
      for (int x = 0; x < p.width(); x++) {
        if (p.channels() == 1) {
          image.getRaster().setSample(x, y, 0, p.at(0, y, x));
        } else {
          image.setRGB(x, y, p.at(0, y, x) << 16 | p.at(1, y, x) << 8 | p.at(2, y, x));
        }
      }
    }
    return image;
  }

  private static byte[] encode(BufferedImage image, String format) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      if (!ImageIO.write(image, format, out)) {
        throw new IllegalStateException("no writer for " + format);
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A gray image whose pixel values encode its position and a seed. */
  public static Pixels gray(int height, int width, int seed) {
    byte[] data = new byte[height * width];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) ((i * 7 + seed * 31) % 256);
    }
    return new Pixels(1, height, width, data);
  }
}
