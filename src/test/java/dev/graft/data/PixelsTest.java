package dev.graft.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.core.GraftException;
import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

class PixelsTest {

  @Test
  void grayPngKeepsItsExactSamples() {
    Pixels gray = new Pixels(1, 1, 4, new byte[] {0, 64, (byte) 128, (byte) 255});

    Pixels decoded = Pixels.decode(TestImages.png(gray), "example 0", 4096);

    // getRGB would give 0, 137, 188, 255 (linear gray to sRGB)
    assertEquals(gray, decoded);
  }

  @Test
  void sixteenBitGrayIsScaledToEightBits() {
    BufferedImage image = new BufferedImage(2, 1, BufferedImage.TYPE_USHORT_GRAY);
    image.getRaster().setSample(0, 0, 0, 65535);
    image.getRaster().setSample(1, 0, 0, 257 * 100);

    Pixels p = Pixels.of(image);

    assertArrayEquals(new byte[] {(byte) 255, 100}, p.data());
  }

  @Test
  void rgbIsChannelFirst() {
    Pixels rgb = new Pixels(3, 1, 2, new byte[] {10, 20, 30, 40, 50, 60});

    Pixels decoded = Pixels.decode(TestImages.png(rgb), "example 0", 4096);

    assertEquals(rgb, decoded);
    assertArrayEquals(
        new float[] {
          Pixels.luma(10, 30, 50), Pixels.luma(20, 40, 60),
        },
        decoded.toFloats(1));
  }

  @Test
  void bilinearUsesHalfPixelCentres() {
    float[] src = {0, 100};

    assertArrayEquals(new float[] {0, 25, 75, 100}, Pixels.bilinear(src, 1, 1, 2, 1, 4), 1e-4f);
    assertArrayEquals(new float[] {50}, Pixels.bilinear(src, 1, 1, 2, 1, 1), 1e-4f);
  }

  @Test
  void oversizedImageIsRefusedBeforeDecoding() {
    byte[] png = TestImages.png(TestImages.gray(40, 30, 1));

    var e =
        assertThrows(
            GraftException.ResourceExhausted.class, () -> Pixels.decode(png, "example 3", 32));
    assertTrue(e.getMessage().contains("example 3 is 40x30 pixels"), e.getMessage());
  }

  @Test
  void servingAGrayPngMatchesTrainingOnStoredPixels() {
    Pixels digit = TestImages.gray(28, 28, 5);
    Preprocessing p =
        new Preprocessing(1, 28, 28, 1f / 255, new float[] {0.1307f}, new float[] {0.3081f});

    float[] served = p.apply(TestImages.png(digit), "request image");
    float[] raw = digit.toFloats(1);
    p.normaliseInPlace(raw);

    assertArrayEquals(raw, served, 0f);
    assertArrayEquals(raw, p.apply(digit), 0f);
  }
}
