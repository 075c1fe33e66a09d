package dev.graft.training;

import ai.djl.Device;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.graft.core.GraftException;
import dev.graft.onnx.ParityGate;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * The feature cache: the frozen backbone runs once over the examples (inference mode, so BatchNorm
 * uses its running statistics exactly as it would while training frozen), and every epoch trains
 * the head on the stored features.
 *
 * <p>With the {@link FeatureEngine#ORT} engine the cut backbone runs in ONNX Runtime. Before the
 * cache is filled, a small batch goes through both ONNX Runtime and {@code OnnxBlock}; when they
 * differ by more than the tolerance (relative to the features' scale), or ONNX Runtime cannot run
 * the graph, {@code OnnxBlock} computes the whole cache and the reason is recorded. Either way the
 * cache is filled in batches of {@value #BATCH}, so memory stays bounded by the cache itself.
 */
final class Features {

  private static final Logger LOG = Logger.getLogger(Features.class);

  static final int BATCH = 256;

  /** Examples compared between ONNX Runtime and OnnxBlock before the cache is filled. */
  static final int PARITY_EXAMPLES = 32;

  /**
   * The cache and how it was computed.
   *
   * @param features features by example index (null where not requested)
   * @param info engine, parity and timing, as recorded in the run's plan
   */
  record Result(float[][] features, TrainingPlan.FeatureCache info) {}

  private Features() {}

  /** Features of the examples at {@code indices} on ONNX Runtime (checked), by example index. */
  static float[][] compute(
      ModelProto backbone,
      BatchSource source,
      int[] indices,
      int datasetSize,
      Device device,
      CancelToken token) {
    return compute(
            backbone,
            source,
            indices,
            datasetSize,
            device,
            token,
            FeatureEngine.ORT,
            ParityGate.DEFAULT_TOLERANCE)
        .features();
  }

  /** Features of a batch source's examples: preprocessed images, or tokenised texts. */
  static Result compute(
      ModelProto backbone,
      BatchSource source,
      int[] indices,
      int datasetSize,
      Device device,
      CancelToken token,
      FeatureEngine engine,
      double tolerance) {
    return compute(
        backbone,
        FeatureInputs.of(source, inputNames(backbone)),
        indices,
        datasetSize,
        device,
        token,
        engine,
        tolerance);
  }

  /**
   * Features of the examples at {@code indices}, stored by example index.
   *
   * @param backbone the graph cut at the feature tensor
   * @param inputs the backbone's named inputs for a batch of example indices
   * @param engine ORT (checked against OnnxBlock) or DJL (OnnxBlock alone)
   * @param tolerance largest accepted |ort - djl|, times the features' scale when above 1
   */
  static Result compute(
      ModelProto backbone,
      FeatureInputs inputs,
      int[] indices,
      int datasetSize,
      Device device,
      CancelToken token,
      FeatureEngine engine,
      double tolerance) {
    long start = System.nanoTime();
    float[][] out = new float[datasetSize][];
    String requested = engine.name().toLowerCase(Locale.ROOT);
    if (engine == FeatureEngine.DJL) {
      try (DjlFeatures djl = new DjlFeatures(backbone, device)) {
        fill(djl, inputs, indices, out, token);
        return new Result(out, info(djl, requested, null, "", indices.length, start));
      }
    }
    int[] parityIdx = Arrays.copyOf(indices, Math.min(indices.length, PARITY_EXAMPLES));
    Parity parity = null;
    String fallback;
    try (OrtFeatures ort = new OrtFeatures(backbone, device)) {
      FeatureBatch probe = inputs.batch(parityIdx);
      float[][] fromOrt = ort.extract(probe);
      float[][] fromDjl;
      try (DjlFeatures djl = new DjlFeatures(backbone, device)) {
        fromDjl = djl.extract(probe);
      }
      parity = Parity.of(fromOrt, fromDjl, tolerance);
      if (parity.passed()) {
        fill(ort, inputs, indices, out, token);
        TrainingPlan.FeatureCache info = info(ort, requested, parity, "", indices.length, start);
        LOG.infof(
            "Feature cache of %d examples on ONNX Runtime (%s) in %.1f s (%.0f examples/s);"
                + " parity with OnnxBlock on %d examples: max |diff| %.3g (tolerance %.3g)",
            indices.length,
            info.provider(),
            info.seconds(),
            info.examplesPerSecond(),
            parity.examples(),
            parity.maxAbsDiff(),
            parity.tolerance());
        return new Result(out, info);
      }
      fallback =
          String.format(
              Locale.ROOT,
              "ONNX Runtime and OnnxBlock features differ by %.3g on %d examples, more than the"
                  + " tolerance %.3g",
              parity.maxAbsDiff(),
              parity.examples(),
              parity.tolerance());
    } catch (GraftException.FailedPrecondition | GraftException.InvalidArgument e) {
      fallback = e.getMessage();
    }
    LOG.warnf("Feature cache falls back to OnnxBlock: %s", fallback);
    Arrays.fill(out, null);
    try (DjlFeatures djl = new DjlFeatures(backbone, device)) {
      fill(djl, inputs, indices, out, token);
      return new Result(out, info(djl, requested, parity, fallback, indices.length, start));
    }
  }

  private static void fill(
      FeatureExtractor engine,
      FeatureInputs inputs,
      int[] indices,
      float[][] out,
      CancelToken token) {
    int batch = Math.min(BATCH, inputs.batchLimit());
    for (int from = 0; from < indices.length; from += batch) {
      token.check();
      int[] idx = Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batch));
      float[][] rows = engine.extract(inputs.batch(idx));
      for (int i = 0; i < idx.length; i++) {
        out[idx[i]] = rows[i];
      }
    }
  }

  private static TrainingPlan.FeatureCache info(
      FeatureExtractor engine,
      String requested,
      Parity parity,
      String fallback,
      int examples,
      long start) {
    return new TrainingPlan.FeatureCache(
        engine.engine(),
        engine.provider(),
        requested,
        parity == null ? 0 : parity.examples(),
        parity == null ? 0 : parity.maxAbsDiff(),
        parity == null ? 0 : parity.tolerance(),
        fallback,
        examples,
        (System.nanoTime() - start) / 1e9);
  }

  /** The graph inputs that are not initializers, in order: what a feature batch must name. */
  static List<String> inputNames(ModelProto model) {
    Set<String> initializers = new HashSet<>();
    for (TensorProto t : model.getGraph().getInitializerList()) {
      initializers.add(t.getName());
    }
    return model.getGraph().getInputList().stream()
        .map(ValueInfoProto::getName)
        .filter(n -> !initializers.contains(n))
        .toList();
  }

  /**
   * ONNX Runtime against OnnxBlock on the same examples.
   *
   * @param examples examples compared
   * @param maxAbsDiff largest |ort - djl| (infinite when the shapes differ or a value is NaN)
   * @param tolerance the accepted maximum: the base tolerance times max(1, max |djl|)
   */
  record Parity(int examples, double maxAbsDiff, double tolerance) {

    boolean passed() {
      return maxAbsDiff <= tolerance;
    }

    static Parity of(float[][] ort, float[][] djl, double tolerance) {
      double diff = ort.length == djl.length ? 0 : Double.POSITIVE_INFINITY;
      double scale = 1;
      for (int i = 0; i < Math.min(ort.length, djl.length); i++) {
        if (ort[i].length != djl[i].length) {
          diff = Double.POSITIVE_INFINITY;
          continue;
        }
        for (int k = 0; k < ort[i].length; k++) {
          double d = Math.abs((double) ort[i][k] - djl[i][k]);
          diff = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(diff, d);
          scale = Math.max(scale, Math.abs(djl[i][k]));
        }
      }
      return new Parity(djl.length, diff, tolerance * scale);
    }
  }
}
