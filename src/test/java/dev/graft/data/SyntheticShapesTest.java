package dev.graft.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.core.GraftException;
import java.util.List;
import org.junit.jupiter.api.Test;

class SyntheticShapesTest {

  @Test
  void theSameSeedGivesTheSameImages() {
    SyntheticShapes a = new SyntheticShapes(List.of(), 11);
    SyntheticShapes b = new SyntheticShapes(List.of(), 11);
    SyntheticShapes c = new SyntheticShapes(List.of(), 12);
    for (int i = 0; i < 16; i++) {
      Pixels pa = a.next(i % 8);
      assertEquals(pa, b.next(i % 8));
      assertNotEquals(pa, c.next(i % 8));
    }
  }

  @Test
  void everyShapeIsVisibleAndInsideTheImage() {
    SyntheticShapes shapes = new SyntheticShapes(List.of(), 3);
    for (int i = 0; i < 80; i++) {
      Pixels p = shapes.next(i % 8);
      assertEquals(new ImageShape(1, 28, 28), p.shape());
      int bright = 0;
      for (byte v : p.data()) {
        bright += (v & 0xff) > 128 ? 1 : 0;
      }
      assertTrue(bright >= 10 && bright < 500, SyntheticShapes.SHAPES.get(i % 8) + ": " + bright);
    }
  }

  /**
   * A nearest-centroid classifier on raw pixels beats chance clearly: the classes are learnable.
   */
  @Test
  void classesAreDistinguishable() {
    SyntheticShapes train = new SyntheticShapes(List.of("circle", "bar", "ring", "cross"), 1);
    double[][] centroids = new double[4][784];
    int perClass = 200;
    for (int i = 0; i < perClass; i++) {
      for (int c = 0; c < 4; c++) {
        byte[] d = train.next(c).data();
        for (int k = 0; k < 784; k++) {
          centroids[c][k] += (d[k] & 0xff) / (double) perClass;
        }
      }
    }
    SyntheticShapes test = new SyntheticShapes(List.of("circle", "bar", "ring", "cross"), 2);
    int correct = 0;
    int total = 0;
    for (int i = 0; i < 50; i++) {
      for (int c = 0; c < 4; c++) {
        byte[] d = test.next(c).data();
        int best = 0;
        double bestDistance = Double.MAX_VALUE;
        for (int k = 0; k < 4; k++) {
          double distance = 0;
          for (int j = 0; j < 784; j++) {
            double diff = (d[j] & 0xff) - centroids[k][j];
            distance += diff * diff;
          }
          if (distance < bestDistance) {
            bestDistance = distance;
            best = k;
          }
        }
        correct += best == c ? 1 : 0;
        total++;
      }
    }
    assertTrue(correct > 0.4 * total, correct + " of " + total);
  }

  @Test
  void unknownShapesAreRefused() {
    var e =
        assertThrows(
            GraftException.InvalidArgument.class, () -> new SyntheticShapes(List.of("hexagon"), 1));
    assertTrue(e.getMessage().contains("unknown synthetic shape 'hexagon'"));
  }
}
