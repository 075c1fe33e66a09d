package dev.graft.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.graft.model.GraphChecks;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxImport;
import dev.graft.onnx.OnnxTensors;
import dev.graft.onnx.SupportedOps;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The steps every end-to-end test repeats: a seeded DJL trainer over an {@link OnnxBlock}, a few
 * steps on random data, the provenance written on export, and the checks an exported file must
 * pass.
 */
final class Pipeline {

  private Pipeline() {}

  /** Softmax cross-entropy with the given optimizer. */
  static DefaultTrainingConfig trainerConfig(Optimizer optimizer) {
    return new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss()).optOptimizer(optimizer);
  }

  static Optimizer sgd(float lr) {
    return Optimizer.sgd().setLearningRateTracker(Tracker.fixed(lr)).build();
  }

  static Optimizer adam(float lr) {
    return Optimizer.adam().optLearningRateTracker(Tracker.fixed(lr)).build();
  }

  /**
   * Runs {@code steps} forward/backward/update steps on standard-normal inputs of {@code
   * batchShape} with random labels in {@code [0, classes)}; the engine's seed makes them
   * reproducible. Returns the losses.
   */
  static float[] train(Trainer trainer, Shape batchShape, int classes, int steps) {
    float[] losses = new float[steps];
    for (int i = 0; i < steps; i++) {
      try (NDManager batch = trainer.getManager().newSubManager()) {
        NDArray x = batch.randomNormal(batchShape);
        NDArray y =
            batch
                .randomInteger(0, classes, new Shape(batchShape.get(0)), DataType.INT64)
                .toType(DataType.FLOAT32, false);
        try (GradientCollector gc = trainer.newGradientCollector()) {
          NDList pred = trainer.forward(new NDList(x));
          NDArray loss = trainer.getLoss().evaluate(new NDList(y), pred);
          gc.backward(loss);
          losses[i] = loss.getFloat();
        }
        trainer.step();
      }
    }
    return losses;
  }

  /** Provenance as a training run would write it. */
  static Map<String, String> provenance(String baseModel, String strategy, int classes) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("run_id", "run-" + baseModel);
    m.put("base_model", baseModel);
    m.put("strategy", strategy);
    m.put(
        "class_labels",
        java.util.stream.IntStream.range(0, classes)
            .mapToObj(i -> "class" + i)
            .collect(Collectors.joining(",")));
    m.put("preprocessing", "normalize mean=0.5 std=0.5");
    m.put("graft_version", "test");
    m.put("model_version", "1");
    return m;
  }

  /**
   * What every exported file must satisfy: well-formed (no dangling or unused tensors), opset 17,
   * provenance carried, and ONNX Runtime loads it with exactly the block's inputs and outputs.
   */
  static void assertValidExport(
      Path file, OnnxBlock block, Map<String, String> metadata, ModelProto written)
      throws OrtException {
    ModelProto back = OnnxImport.load(file);
    assertEquals(written, back, "the file holds what export returned, already at opset 17");
    assertEquals(List.of(), GraphChecks.problems(back), "exported graph is well-formed");
    assertEquals(1, back.getOpsetImportCount());
    assertEquals("", back.getOpsetImport(0).getDomain());
    assertEquals(SupportedOps.TARGET_OPSET, back.getOpsetImport(0).getVersion());
    Map<String, String> meta = new HashMap<>();
    for (StringStringEntryProto e : back.getMetadataPropsList()) {
      meta.put(e.getKey(), e.getValue());
    }
    assertEquals(metadata, meta);
    assertEquals(
        block.inputNames(),
        back.getGraph().getInputList().stream().map(ValueInfoProto::getName).toList(),
        "graph inputs are the computing inputs only (no initializers listed as inputs)");
    assertEquals(
        block.outputNames(),
        back.getGraph().getOutputList().stream().map(ValueInfoProto::getName).toList());
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(file.toString(), options)) {
      assertEquals(List.copyOf(block.inputNames()), List.copyOf(session.getInputNames()));
      assertEquals(List.copyOf(block.outputNames()), List.copyOf(session.getOutputNames()));
    }
  }

  /** Float initializers by name, as raw IEEE bits so that comparisons are bit for bit. */
  static Map<String, int[]> floatBits(ModelProto model) {
    Map<String, int[]> out = new LinkedHashMap<>();
    for (TensorProto t : model.getGraph().getInitializerList()) {
      if (OnnxTensors.isFloat(t.getDataType())) {
        out.put(t.getName(), bits(OnnxTensors.floats(t)));
      }
    }
    return out;
  }

  static int[] bits(float[] f) {
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToRawIntBits(f[i]);
    }
    return b;
  }

  static void assertFinite(float[] losses) {
    for (float l : losses) {
      assertTrue(Float.isFinite(l), "loss " + l);
    }
  }
}
