package dev.graft.serving;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.core.GraftException;
import dev.graft.data.Preprocessing;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.jboss.logging.Logger;

/**
 * One loaded model version: its ONNX Runtime session (owned by its {@link Batcher}'s runner
 * threads, the only threads that run it, the last of which closes it after the last queued
 * request), its signature, labels and preprocessing.
 */
public final class ServedModel {

  private static final Logger LOG = Logger.getLogger(ServedModel.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The output a Graft-exported classifier names its logits. */
  public static final String LOGITS = "logits";

  private final ModelVersionInfo info;
  private final SessionFactory.OpenSession open;
  private final ModelSignature signature;
  private final List<String> labels;
  private final Optional<Preprocessing> preprocessing;
  private final ModelStats stats;
  private final Batcher batcher;

  private ServedModel(
      ModelVersionInfo info,
      SessionFactory factory,
      SessionFactory.OpenSession open,
      BatchSettings batching,
      ModelStats stats,
      java.util.concurrent.Executor completions) {
    this.info = info;
    this.open = open;
    this.stats = stats;
    Map<String, String> custom = customMetadata(open.session());
    this.signature = signature(info, open.session());
    this.labels = labels(info, custom, signature.classes());
    String pre =
        custom.getOrDefault(
            Preprocessing.METADATA_KEY, info.metadata().get(Preprocessing.METADATA_KEY));
    this.preprocessing = pre == null ? Optional.empty() : Optional.of(Preprocessing.fromJson(pre));
    this.preprocessing.ifPresent(
        p -> {
          if (p.size() != signature.rowSize()) {
            throw new GraftException.FailedPrecondition(
                info.describe()
                    + " declares preprocessing to "
                    + p.size()
                    + " floats but its input "
                    + signature.inputShape()
                    + " takes "
                    + signature.rowSize());
          }
        });
    this.batcher =
        new Batcher(
            info.modelName() + "-v" + info.version(),
            (input, rows) -> run(factory, input, rows),
            batching,
            stats,
            this::release,
            completions);
  }

  /** Opens the file and starts its batcher; FAILED_PRECONDITION when it cannot be served. */
  static ServedModel load(
      ModelVersionInfo info,
      SessionFactory factory,
      BatchSettings batching,
      ModelStats stats,
      java.util.concurrent.Executor completions) {
    SessionFactory.OpenSession open = factory.open(info.onnxPath(), info.describe());
    try {
      ServedModel model = new ServedModel(info, factory, open, batching, stats, completions);
      LOG.infof(
          "Loaded %s on %s: input %s %s, output %s %s, batching %s",
          info.describe(),
          open.provider(),
          model.signature.inputName(),
          model.signature.inputShape(),
          model.signature.outputName(),
          model.signature.outputShape(),
          batching);
      return model;
    } catch (RuntimeException e) {
      open.close();
      throw e;
    }
  }

  public ModelVersionInfo info() {
    return info;
  }

  public ModelSignature signature() {
    return signature;
  }

  public List<String> labels() {
    return labels;
  }

  public Optional<Preprocessing> preprocessing() {
    return preprocessing;
  }

  public ExecutionProvider provider() {
    return open.provider();
  }

  public ModelStats stats() {
    return stats;
  }

  public BatchSettings batching() {
    return batcher.settings();
  }

  /** Queues examples (rows × rowSize floats); null when this model was unloaded meanwhile. */
  CompletableFuture<float[]> submit(float[] data, int rows) {
    return batcher.submit(data, rows);
  }

  /** Stops taking requests; the session closes once the queued ones are answered. */
  void retire() {
    batcher.close();
  }

  boolean retired() {
    return batcher.isClosed();
  }

  /** Whether the session is closed (the batcher answered its last request). */
  boolean released() {
    return batcher.isClosed() && batcher.exited();
  }

  boolean awaitReleased(long millis) throws InterruptedException {
    return batcher.awaitExit(millis);
  }

  private void release() {
    open.close();
    LOG.infof("Unloaded %s", info.describe());
  }

  private Batcher.RunResult run(SessionFactory factory, float[] input, int rows)
      throws OrtException {
    long t0 = System.nanoTime();
    long[] shape = new long[signature.inputShape().size()];
    shape[0] = rows;
    for (int i = 1; i < shape.length; i++) {
      shape[i] = signature.inputShape().get(i);
    }
    try (OnnxTensor tensor =
        OnnxTensor.createTensor(factory.environment(), FloatBuffer.wrap(input), shape)) {
      long t1 = System.nanoTime();
      try (OrtSession.Result result =
          open.session()
              .run(Map.of(signature.inputName(), tensor), Set.of(signature.outputName()))) {
        long t2 = System.nanoTime();
        FloatBuffer out = ((OnnxTensor) result.get(0)).getFloatBuffer();
        float[] values = new float[out.remaining()];
        out.get(values);
        return new Batcher.RunResult(values, t1 - t0, t2 - t1, System.nanoTime() - t2);
      }
    }
  }

  private static ModelSignature signature(ModelVersionInfo info, OrtSession session) {
    try {
      Map<String, NodeInfo> inputs = session.getInputInfo();
      if (inputs.size() != 1) {
        throw new GraftException.FailedPrecondition(
            info.describe() + " has inputs " + inputs.keySet() + "; Graft serves models with one");
      }
      NodeInfo input = inputs.values().iterator().next();
      List<Long> inShape = floatShape(info, "input", input);
      for (int i = 1; i < inShape.size(); i++) {
        if (inShape.get(i) <= 0) {
          throw new GraftException.FailedPrecondition(
              info.describe()
                  + " input '"
                  + input.getName()
                  + "' has shape "
                  + inShape
                  + "; only the first (batch) dimension may be dynamic");
        }
      }
      Map<String, NodeInfo> outputs = session.getOutputInfo();
      NodeInfo output =
          outputs.containsKey(LOGITS) ? outputs.get(LOGITS) : outputs.values().iterator().next();
      List<Long> outShape = floatShape(info, "output", output);
      if (outShape.size() != 2 || outShape.get(1) <= 0) {
        throw new GraftException.FailedPrecondition(
            info.describe()
                + " output '"
                + output.getName()
                + "' has shape "
                + outShape
                + "; expected [N, classes]");
      }
      return new ModelSignature(input.getName(), inShape, output.getName(), outShape);
    } catch (OrtException e) {
      throw new GraftException.FailedPrecondition(
          info.describe() + " cannot be inspected: " + e.getMessage());
    }
  }

  private static List<Long> floatShape(ModelVersionInfo info, String what, NodeInfo node) {
    if (!(node.getInfo() instanceof TensorInfo t) || t.type != OnnxJavaType.FLOAT) {
      throw new GraftException.FailedPrecondition(
          info.describe()
              + " "
              + what
              + " '"
              + node.getName()
              + "' is "
              + node.getInfo()
              + "; Graft serves float32 tensors");
    }
    List<Long> shape = new ArrayList<>();
    for (long d : t.getShape()) {
      shape.add(d);
    }
    if (shape.isEmpty()) {
      throw new GraftException.FailedPrecondition(
          info.describe() + " " + what + " '" + node.getName() + "' is a scalar");
    }
    shape.set(0, -1L);
    return shape;
  }

  private static Map<String, String> customMetadata(OrtSession session) {
    try {
      return session.getMetadata().getCustomMetadata();
    } catch (OrtException e) {
      return Map.of();
    }
  }

  private static List<String> labels(
      ModelVersionInfo info, Map<String, String> custom, int classes) {
    List<String> labels = info.labels();
    if (labels.isEmpty() && custom.containsKey(ModelVersions.LABELS_METADATA_KEY)) {
      try {
        labels =
            JSON.readValue(
                custom.get(ModelVersions.LABELS_METADATA_KEY),
                new TypeReference<List<String>>() {});
      } catch (Exception e) {
        LOG.warnf(
            "%s: metadata %s is not a JSON array of strings",
            info.describe(), ModelVersions.LABELS_METADATA_KEY);
      }
    }
    if (labels.size() != classes) {
      if (!labels.isEmpty()) {
        LOG.warnf(
            "%s has %d labels for %d classes; using class indices",
            info.describe(), labels.size(), classes);
      }
      List<String> indices = new ArrayList<>();
      for (int i = 0; i < classes; i++) {
        indices.add(Integer.toString(i));
      }
      return List.copyOf(indices);
    }
    return List.copyOf(labels);
  }
}
