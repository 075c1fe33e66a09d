package dev.graft.training;

import java.util.SplittableRandom;

/**
 * Training-time image augmentation on preprocessed CHW batches: random crop (the image shifted by
 * up to {@link #PAD} pixels, uncovered pixels zero, i.e. the normalised mean) and random horizontal
 * flip, each decided per example.
 */
final class Augmentation {

  static final int PAD = 2;

  private Augmentation() {}

  static void apply(
      float[] batch, int n, long[] chw, boolean crop, boolean flip, SplittableRandom random) {
    int c = (int) chw[0];
    int h = (int) chw[1];
    int w = (int) chw[2];
    int size = c * h * w;
    float[] scratch = new float[size];
    for (int i = 0; i < n; i++) {
      int offset = i * size;
      if (flip && random.nextBoolean()) {
        for (int ch = 0; ch < c; ch++) {
          for (int y = 0; y < h; y++) {
            int row = offset + (ch * h + y) * w;
            for (int x = 0; x < w / 2; x++) {
              float t = batch[row + x];
              batch[row + x] = batch[row + w - 1 - x];
              batch[row + w - 1 - x] = t;
            }
          }
        }
      }
      if (crop) {
        int dy = random.nextInt(2 * PAD + 1) - PAD;
        int dx = random.nextInt(2 * PAD + 1) - PAD;
        if (dy != 0 || dx != 0) {
          System.arraycopy(batch, offset, scratch, 0, size);
          for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < h; y++) {
              for (int x = 0; x < w; x++) {
                int sy = y + dy;
                int sx = x + dx;
                batch[offset + (ch * h + y) * w + x] =
                    sy >= 0 && sy < h && sx >= 0 && sx < w ? scratch[(ch * h + sy) * w + sx] : 0f;
              }
            }
          }
        }
      }
    }
  }
}
