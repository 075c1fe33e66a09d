package dev.graft.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.core.GraftException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class PreprocessingTest {

  private static byte[] png(BufferedImage image) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(image, "png", out);
    return out.toByteArray();
  }

  @Test
  void grayscaleIsScaledAndNormalised() throws IOException {
    BufferedImage image = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
    image.setRGB(0, 0, 0xffffff);
    image.setRGB(1, 0, 0x000000);
    Preprocessing p = new Preprocessing(1, 1, 2, 1f / 255, new float[] {0.5f}, new float[] {0.5f});

    float[] x = p.apply(png(image), "example 0");

    assertArrayEquals(new float[] {1f, -1f}, x, 1e-6f);
  }

  @Test
  void rgbIsChannelFirstAndResized() {
    BufferedImage image = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 4; y++) {
      for (int x = 0; x < 4; x++) {
        image.setRGB(x, y, 0xff0000); // pure red
      }
    }
    Preprocessing p = Preprocessing.unitScale(3, 2, 2);

    float[] x = p.apply(image);

    assertEquals(12, x.length);
    assertArrayEquals(new float[] {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}, x, 1e-6f);
  }

  @Test
  void corruptImageNamesTheExample() {
    var e =
        assertThrows(
            GraftException.InvalidArgument.class,
            () -> Preprocessing.unitScale(1, 28, 28).apply(new byte[] {1, 2, 3}, "example 7"));
    assertTrue(e.getMessage().startsWith("example 7 is not a readable PNG or JPEG"));
  }

  @Test
  void jsonRoundTrips() {
    Preprocessing p =
        new Preprocessing(
            3, 32, 32, 1f / 255, new float[] {0.1f, 0.2f, 0.3f}, new float[] {1f, 2f, 3f});
    assertEquals(p, Preprocessing.fromJson(p.toJson()));
  }

  @Test
  void invalidSpecsAreRefused() {
    assertThrows(
        GraftException.InvalidArgument.class,
        () -> new Preprocessing(2, 28, 28, 1, new float[2], new float[] {1, 1}));
    assertThrows(
        GraftException.InvalidArgument.class,
        () -> new Preprocessing(1, 28, 28, 1, new float[] {0}, new float[] {0}));
  }
}
