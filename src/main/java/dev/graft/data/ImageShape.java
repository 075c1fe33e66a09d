package dev.graft.data;

import dev.graft.core.GraftException;
import java.util.List;

/** The stored shape of an image dataset's examples: channels (1 or 3), height, width. */
public record ImageShape(int channels, int height, int width) {

  public ImageShape {
    if (channels != 1 && channels != 3) {
      throw new GraftException.InvalidArgument(
          "image channels must be 1 (grayscale) or 3 (RGB), got " + channels);
    }
    if (height < 1 || width < 1) {
      throw new GraftException.InvalidArgument(
          "image size " + height + "x" + width + " must be at least 1x1");
    }
  }

  /** Pixels of one image, all channels. */
  public int size() {
    return channels * height * width;
  }

  public List<Long> asList() {
    return List.of((long) channels, (long) height, (long) width);
  }

  @Override
  public String toString() {
    return channels + "x" + height + "x" + width;
  }
}
