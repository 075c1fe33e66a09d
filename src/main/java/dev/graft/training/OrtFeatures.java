package dev.graft.training;

import ai.djl.Device;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.graft.core.GraftException;
import dev.graft.serving.ExecutionProvider;
import dev.graft.serving.SessionFactory;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The frozen backbone in ONNX Runtime: the cut {@link ModelProto} serialised into one session (on
 * CUDA when the run trains on a GPU and this ONNX Runtime build has the provider, else on CPU),
 * batches of named inputs in, each example's flattened features out. Sessions come from {@link
 * SessionFactory}, so the process keeps one {@link OrtEnvironment}.
 */
final class OrtFeatures implements FeatureExtractor {

  // One factory per place: CPU, or AUTO (CUDA when present) for each GPU id.
  private static final Map<Integer, SessionFactory> FACTORIES = new ConcurrentHashMap<>();

  private final OrtEnvironment env;
  private final SessionFactory.OpenSession open;
  private final Set<String> inputNames;
  private final String outputName;

  /**
   * Opens the session.
   *
   * @param backbone the graph cut at the feature tensor; its first output is the features
   * @param device the run's device: a GPU asks for CUDA, with CPU as the fallback
   * @throws GraftException.FailedPrecondition when ONNX Runtime cannot load the graph
   */
  OrtFeatures(ModelProto backbone, Device device) {
    this(backbone, factory(device));
  }

  /** On sessions from {@code factory} (benchmarks set its threads). */
  OrtFeatures(ModelProto backbone, SessionFactory factory) {
    this.env = factory.environment();
    this.open = factory.open(backbone.toByteArray(), "the frozen backbone");
    try {
      OrtSession session = open.session();
      this.inputNames = session.getInputNames();
      this.outputName = session.getOutputNames().iterator().next();
    } catch (RuntimeException e) {
      open.close();
      throw e;
    }
  }

  private static SessionFactory factory(Device device) {
    int key = device.isGpu() ? device.getDeviceId() : -1;
    return FACTORIES.computeIfAbsent(
        key,
        k ->
            k < 0
                ? new SessionFactory(ExecutionProvider.CPU, 0, 0, 0, 0, "ALL_OPT")
                : new SessionFactory(ExecutionProvider.AUTO, k, 0, 0, 0, "ALL_OPT"));
  }

  @Override
  public float[][] extract(FeatureBatch batch) {
    if (!batch.inputs().keySet().equals(inputNames)) {
      throw new GraftException.InvalidArgument(
          "the frozen backbone takes the inputs "
              + inputNames
              + ", the feature batch has "
              + batch.inputs().keySet());
    }
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, FeatureBatch.Tensor> e : batch.inputs().entrySet()) {
        FeatureBatch.Tensor t = e.getValue();
        feeds.put(
            e.getKey(),
            t.floats() != null
                ? OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), t.shape())
                : OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs()), t.shape()));
      }
      try (OrtSession.Result result = open.session().run(feeds)) {
        OnnxValue value =
            result
                .get(outputName)
                .orElseThrow(
                    () ->
                        new GraftException.FailedPrecondition(
                            "the frozen backbone returned no '" + outputName + "'"));
        OnnxTensor out = (OnnxTensor) value;
        if (out.getInfo().type != OnnxJavaType.FLOAT) {
          throw new GraftException.FailedPrecondition(
              "the feature tensor '" + outputName + "' is " + out.getInfo().type + ", not FLOAT");
        }
        return rows(out.getFloatBuffer(), batch.size());
      }
    } catch (OrtException e) {
      throw new GraftException.FailedPrecondition(
          "ONNX Runtime cannot run the frozen backbone: " + e.getMessage());
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * Every output of the graph for a batch, {@code outputs} in that order: {@code [output][example]}
   * flattened values (the layer probes' one pass for all cut points).
   */
  float[][][] extractAll(FeatureBatch batch, java.util.List<String> outputs) {
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, FeatureBatch.Tensor> e : batch.inputs().entrySet()) {
        FeatureBatch.Tensor t = e.getValue();
        feeds.put(
            e.getKey(),
            t.floats() != null
                ? OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), t.shape())
                : OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs()), t.shape()));
      }
      try (OrtSession.Result result = open.session().run(feeds)) {
        float[][][] out = new float[outputs.size()][][];
        for (int i = 0; i < outputs.size(); i++) {
          String name = outputs.get(i);
          OnnxTensor t =
              (OnnxTensor)
                  result
                      .get(name)
                      .orElseThrow(
                          () ->
                              new GraftException.FailedPrecondition(
                                  "the probe graph returned no '" + name + "'"));
          out[i] = rows(t.getFloatBuffer(), batch.size());
        }
        return out;
      }
    } catch (OrtException e) {
      throw new GraftException.FailedPrecondition(
          "ONNX Runtime cannot run the frozen backbone: " + e.getMessage());
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  private static float[][] rows(FloatBuffer flat, int n) {
    int total = flat.remaining();
    if (total % n != 0) {
      throw new GraftException.FailedPrecondition(
          "the feature tensor holds " + total + " values, not a multiple of the batch " + n);
    }
    int row = total / n;
    float[][] out = new float[n][row];
    for (int i = 0; i < n; i++) {
      flat.get(out[i]);
    }
    return out;
  }

  @Override
  public String engine() {
    return "ort";
  }

  @Override
  public String provider() {
    return open.provider().name();
  }

  @Override
  public void close() {
    open.close();
  }
}
