package dev.graft.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class InferenceTest {

  private static int[] top(float[] p, int k) {
    int[] order = new int[p.length];
    int n = Inference.topClasses(p, k, order);
    return Arrays.copyOf(order, n);
  }

  @Test
  void topClassesAreBestFirstWithTiesToTheLowerIndex() {
    float[] p = {0.1f, 0.3f, 0.05f, 0.3f, 0.25f};
    assertArrayEquals(new int[] {1}, top(p, 1));
    assertArrayEquals(new int[] {1, 3, 4}, top(p, 3));
    assertArrayEquals(new int[] {1, 3, 4, 0, 2}, top(p, 5));
  }

  @Test
  void topClassesMatchAFullSort() {
    java.util.Random random = new java.util.Random(7);
    for (int trial = 0; trial < 200; trial++) {
      float[] p = new float[1 + random.nextInt(20)];
      for (int i = 0; i < p.length; i++) {
        p[i] = random.nextInt(5) / 4f; // many ties
      }
      int k = 1 + random.nextInt(p.length);
      int[] expected =
          java.util.stream.IntStream.range(0, p.length)
              .boxed()
              .sorted((a, b) -> p[a] != p[b] ? Float.compare(p[b], p[a]) : Integer.compare(a, b))
              .limit(k)
              .mapToInt(Integer::intValue)
              .toArray();
      assertArrayEquals(expected, top(p, k), "p=" + Arrays.toString(p) + " k=" + k);
    }
  }

  @Test
  void softmaxOfARowSumsToOneAndKeepsOrder() {
    float[] logits = {9, 1, 2, 3, 1000, 1001};
    float[] out = new float[2];
    Inference.softmax(logits, 4, out);
    assertEquals(1.0, out[0] + out[1], 1e-6);
    assertEquals(1 / (1 + Math.E), out[0], 1e-6);
  }
}
