package dev.graft.serving;

import dev.graft.core.GraftException;

/**
 * Pixels that request images may decode to: per image, and across every request decoding at once.
 * Sizes come from the image headers, before anything is decoded, so a small file claiming a huge
 * image (a decompression bomb) costs nothing; a decoded pixel costs about 11 bytes of heap on the
 * way to floats.
 */
public final class PixelBudget {

  private final long maxImagePixels;
  private final long maxDecodingPixels;
  private long decoding;

  public PixelBudget(long maxImagePixels, long maxDecodingPixels) {
    this.maxImagePixels = maxImagePixels;
    this.maxDecodingPixels = maxDecodingPixels;
  }

  /** Refuses one image larger than {@code graft.serving.max-image-pixels}. */
  public void checkImage(String what, int height, int width) {
    long pixels = (long) height * width;
    if (pixels > maxImagePixels) {
      throw new GraftException.ResourceExhausted(
          what
              + " is "
              + height
              + "x"
              + width
              + " pixels (height x width, "
              + pixels
              + " pixels); an image may have at most "
              + maxImagePixels
              + " (graft.serving.max-image-pixels)");
    }
  }

  /**
   * Reserves {@code pixels} for one request's images until the lease is closed; refuses at once
   * (RESOURCE_EXHAUSTED) when they would take the images decoding now over {@code
   * graft.serving.max-decoding-pixels}.
   */
  public Lease acquire(long pixels) {
    if (pixels > maxDecodingPixels) {
      throw new GraftException.ResourceExhausted(
          "the request's images have "
              + pixels
              + " pixels together; at most "
              + maxDecodingPixels
              + " are decoded at once (graft.serving.max-decoding-pixels): send fewer or smaller"
              + " images per request");
    }
    synchronized (this) {
      if (decoding + pixels > maxDecodingPixels) {
        throw new GraftException.ResourceExhausted(
            "images of "
                + decoding
                + " pixels are being decoded for other requests; this request's "
                + pixels
                + " would exceed graft.serving.max-decoding-pixels ("
                + maxDecodingPixels
                + "): retry shortly");
      }
      decoding += pixels;
    }
    return new Lease(pixels);
  }

  /** Pixels reserved now. */
  public synchronized long decoding() {
    return decoding;
  }

  /** A reservation; closing it returns the pixels. */
  public final class Lease implements AutoCloseable {
    private long pixels;

    private Lease(long pixels) {
      this.pixels = pixels;
    }

    @Override
    public void close() {
      synchronized (PixelBudget.this) {
        decoding -= pixels;
        pixels = 0;
      }
    }
  }
}
