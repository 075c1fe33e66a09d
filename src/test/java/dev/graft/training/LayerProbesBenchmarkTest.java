package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.data.Pixels;
import dev.graft.data.SyntheticShapes;
import dev.graft.model.Architecture;
import dev.graft.model.Architectures;
import dev.graft.model.CutPoints;
import dev.graft.model.GraphSurgery;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bench (not a timed test): the layer-probe sweep (one ONNX Runtime pass for every cut point's
 * pooled features, then one L-BFGS probe per cut point) against one inference pass of the backbone
 * up to its feature tensor over the same 1,200 examples (1,000 train + 200 validation, 8 synthetic
 * shapes, 28x28 grey), sessions included in both, best of three. Target: sweep < 2 x the pass.
 */
@Tag("bench")
class LayerProbesBenchmarkTest {

  private static final int TRAIN = 1000;
  private static final int VALIDATION = 200;

  @ParameterizedTest
  @ValueSource(strings = {"cnn-small", "resnet-mini"})
  void sweepCostsLessThanTwoInferencePasses(String architecture) {
    Architecture arch = Architectures.get(architecture);
    ModelProto backbone = arch.backbone(5);
    List<CutPoints.CutPoint> cuts = CutPoints.of(backbone, arch.featureTensor());
    int n = TRAIN + VALIDATION;
    SyntheticShapes shapes = new SyntheticShapes(List.of(), 9);
    int classes = shapes.classNames().size();
    float[][] images = new float[n][];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = i % classes;
      Pixels p = shapes.next(labels[i]);
      float[] x = new float[p.data().length];
      for (int k = 0; k < x.length; k++) {
        x[k] = ((p.data()[k] & 0xff) / 255f - 0.5f) / 0.5f;
      }
      images[i] = x;
    }
    BatchSource source = memory(images, labels);
    int[] train = IntStream.range(0, TRAIN).toArray();
    int[] validation = IntStream.range(TRAIN, n).toArray();
    ModelProto toFeatures = GraphSurgery.cut(backbone, arch.featureTensor());

    double pass = Double.MAX_VALUE;
    double sweepFeatures = Double.MAX_VALUE;
    double sweepTotal = Double.MAX_VALUE;
    double solver = 0;
    LayerProbes.Sweep last = null;
    for (int round = 0; round < 4; round++) { // the first is warm-up
      long t0 = System.nanoTime();
      FeatureInputs inputs = FeatureInputs.of(source, Features.inputNames(toFeatures));
      try (OrtFeatures ort = new OrtFeatures(toFeatures, Device.cpu())) {
        for (int from = 0; from < n; from += Features.BATCH) {
          int[] idx = IntStream.range(from, Math.min(n, from + Features.BATCH)).toArray();
          ort.extract(inputs.batch(idx));
        }
      }
      double p = (System.nanoTime() - t0) / 1e9;
      long t1 = System.nanoTime();
      LayerProbes.Sweep s =
          LayerProbes.sweep(
              CutPoints.pooledOutputs(backbone, cuts),
              cuts,
              source,
              labels,
              train,
              validation,
              classes,
              n,
              new CancelToken());
      double total = (System.nanoTime() - t1) / 1e9;
      if (round > 0) {
        pass = Math.min(pass, p);
        sweepFeatures = Math.min(sweepFeatures, s.featureSeconds());
        if (total < sweepTotal) {
          sweepTotal = total;
          solver = s.probes().stream().mapToDouble(LayerProbes.Probe::seconds).sum();
        }
      }
      last = s;
    }
    StringBuilder rows = new StringBuilder();
    for (LayerProbes.Probe p : last.probes()) {
      rows.append(
          String.format(
              Locale.ROOT,
              "%n  %-12s %4d features  val_accuracy %.3f  solver %.3f s",
              p.cut().name(),
              p.cut().featureSize(),
              p.valAccuracy(),
              p.seconds()));
    }
    System.out.printf(
        Locale.ROOT,
        "BENCH layer probes %s (%d cut points, %d examples): inference pass %.3f s; sweep %.3f s"
            + " (features %.3f s, solvers %.3f s); sweep / pass = %.2f, features / pass = %.2f%s%n",
        architecture,
        cuts.size(),
        n,
        pass,
        sweepTotal,
        sweepFeatures,
        solver,
        sweepTotal / pass,
        sweepFeatures / pass,
        rows);
    assertTrue(sweepTotal > 0 && pass > 0);
  }

  private static BatchSource memory(float[][] images, int[] labels) {
    return new BatchSource() {
      @Override
      public long[] exampleShape() {
        return new long[] {1, SyntheticShapes.SIDE, SyntheticShapes.SIDE};
      }

      @Override
      public Batch batch(int[] indices, boolean augment, SplittableRandom random) {
        int size = images[0].length;
        float[] x = new float[indices.length * size];
        for (int i = 0; i < indices.length; i++) {
          System.arraycopy(images[indices[i]], 0, x, i * size, size);
        }
        return new Batch(x, Arrays.stream(indices).map(i -> labels[i]).toArray());
      }
    };
  }
}
