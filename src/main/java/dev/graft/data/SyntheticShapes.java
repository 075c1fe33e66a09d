package dev.graft.data;

import dev.graft.core.GraftException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A deterministic image task for machines without any dataset package: 28x28 grayscale shapes at a
 * random position, scale and rotation, with random brightness and Gaussian noise. Shapes are drawn
 * from signed distance functions with a one-pixel antialiased edge, in plain Java arithmetic and
 * {@link StrictMath}, so a seed gives the same bytes on every machine ({@link Random} is specified
 * to the bit).
 */
public final class SyntheticShapes {

  /** Image side in pixels. */
  public static final int SIDE = 28;

  /** Every shape, in default label order. */
  public static final List<String> SHAPES =
      List.of("circle", "square", "triangle", "cross", "ring", "bar", "half_disk", "frame");

  /** Most examples per class one request may generate. */
  public static final int MAX_PER_CLASS = 100_000;

  private static final double NOISE = 0.08;

  private final List<Integer> shapes;
  private final Random random;

  /**
   * @param classNames a subset of {@link #SHAPES}, in label order; empty means all
   */
  public SyntheticShapes(List<String> classNames, long seed) {
    List<String> names = classNames == null || classNames.isEmpty() ? SHAPES : classNames;
    this.shapes = new ArrayList<>();
    for (String name : names) {
      int shape = SHAPES.indexOf(name);
      if (shape < 0) {
        throw new GraftException.InvalidArgument(
            "unknown synthetic shape '" + name + "'; choose from " + SHAPES);
      }
      shapes.add(shape);
    }
    this.random = new Random(seed);
  }

  /** Class names in label order. */
  public List<String> classNames() {
    return shapes.stream().map(SHAPES::get).toList();
  }

  /** Writes {@code perClass} examples of every class, classes interleaved. */
  public void generate(int perClass, DatasetBuilder builder) {
    if (perClass < 1 || perClass > MAX_PER_CLASS) {
      throw new GraftException.InvalidArgument(
          "examples_per_class " + perClass + " is out of range 1.." + MAX_PER_CLASS);
    }
    for (int i = 0; i < perClass; i++) {
      for (int label = 0; label < shapes.size(); label++) {
        builder.addImage(label, next(label), "synthetic example " + (i * shapes.size() + label));
      }
    }
  }

  /** The next image of class {@code label} from this generator's sequence. */
  public Pixels next(int label) {
    int shape = shapes.get(label);
    double radius = 5 + 5 * random.nextDouble();
    double cx = radius + (SIDE - 2 * radius) * random.nextDouble();
    double cy = radius + (SIDE - 2 * radius) * random.nextDouble();
    double angle = 2 * Math.PI * random.nextDouble();
    double brightness = 0.6 + 0.4 * random.nextDouble();
    double cos = StrictMath.cos(angle);
    double sin = StrictMath.sin(angle);
    byte[] pixels = new byte[SIDE * SIDE];
    for (int y = 0; y < SIDE; y++) {
      for (int x = 0; x < SIDE; x++) {
        double dx = x + 0.5 - cx;
        double dy = y + 0.5 - cy;
        double u = (cos * dx + sin * dy) / radius;
        double v = (-sin * dx + cos * dy) / radius;
        double distance = distance(shape, u, v) * radius;
        double coverage = Math.max(0, Math.min(1, 0.5 - distance));
        double value = brightness * coverage + NOISE * random.nextGaussian();
        pixels[y * SIDE + x] = (byte) Math.round(255 * Math.max(0, Math.min(1, value)));
      }
    }
    return new Pixels(1, SIDE, SIDE, pixels);
  }

  /** Signed distance from (u, v) to the shape of radius 1: negative inside. */
  static double distance(int shape, double u, double v) {
    switch (shape) {
      case 0:
        return StrictMath.hypot(u, v) - 1;
      case 1:
        return box(u, v, 0.8, 0.8);
      case 2:
        return triangle(u, v);
      case 3:
        return Math.min(box(u, v, 1, 0.25), box(u, v, 0.25, 1));
      case 4:
        return Math.abs(StrictMath.hypot(u, v) - 0.75) - 0.25;
      case 5:
        return box(u, v, 1, 0.25);
      case 6:
        double w = v + 0.4;
        return Math.max(StrictMath.hypot(u, w) - 1, -w);
      case 7:
        return Math.abs(box(u, v, 0.8, 0.8)) - 0.18;
      default:
        throw new IllegalArgumentException("shape " + shape);
    }
  }

  private static double box(double u, double v, double bu, double bv) {
    double qu = Math.abs(u) - bu;
    double qv = Math.abs(v) - bv;
    return StrictMath.hypot(Math.max(qu, 0), Math.max(qv, 0)) + Math.min(Math.max(qu, qv), 0);
  }

  /** Equilateral triangle inscribed in the unit circle. */
  private static double triangle(double u, double v) {
    double k = StrictMath.sqrt(3);
    double r = k / 2;
    double px = Math.abs(u) - r;
    double py = v + r / k;
    if (px + k * py > 0) {
      double nx = (px - k * py) / 2;
      double ny = (-k * px - py) / 2;
      px = nx;
      py = ny;
    }
    px -= Math.max(-2 * r, Math.min(px, 0));
    return -StrictMath.hypot(px, py) * Math.signum(py);
  }
}
