package dev.graft.training;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.model.GraphSurgery;
import dev.graft.onnx.OnnxTensors;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A linear head fitted to convergence on cached backbone features ({@link SoftmaxRegression}),
 * written into the head's Gemm initializers: the graph, its export, the parity gate and serving are
 * exactly those of a head trained by gradient descent.
 */
final class HeadSolver {

  private HeadSolver() {}

  /**
   * @param graph the full graph with the fitted head
   * @param selection the head and the L2 search
   * @param validation the head's metrics on the validation split
   * @param seconds wall time of the fit (features excluded)
   */
  record Result(
      ModelProto graph,
      SoftmaxRegression.Selection selection,
      Evaluation validation,
      double seconds) {

    /** The fit as one epoch's metrics, keys prefixed (e.g. "probe_"); "" for none. */
    Map<String, Double> metrics(String prefix) {
      Map<String, Double> m = new LinkedHashMap<>();
      m.put(prefix + "train_loss", selection.head().trainLoss());
      validation.metrics("val").forEach((k, v) -> m.put(prefix + k, v));
      m.put(prefix + "l2", selection.head().l2());
      m.put(prefix + "solver_iterations", (double) selection.head().iterations());
      m.put(prefix + "epoch_seconds", seconds);
      return m;
    }

    TrainingPlan.L2Point[] search() {
      return selection.candidates().stream()
          .map(c -> new TrainingPlan.L2Point(c.l2(), c.valAccuracy(), c.valLoss(), c.iterations()))
          .toArray(TrainingPlan.L2Point[]::new);
    }
  }

  /** Fits the head of {@code graph} on the cached features of {@code train}, L2 picked on val. */
  static Result fit(
      ModelProto graph,
      float[][] featuresByExample,
      long[] featureShape,
      int[] labels,
      int[] train,
      int[] validation,
      int classes,
      CancelToken token) {
    long start = System.nanoTime();
    float[][] trainX = pooled(featuresByExample, train, featureShape);
    float[][] valX = pooled(featuresByExample, validation, featureShape);
    SoftmaxRegression.Selection selection =
        SoftmaxRegression.fitAndSelect(
            trainX, pick(labels, train), valX, pick(labels, validation), classes, token);
    double seconds = (System.nanoTime() - start) / 1e9;
    Evaluation val =
        SoftmaxRegression.evaluate(selection.head(), valX, pick(labels, validation), classes);
    return new Result(withHead(graph, selection.head()), selection, val, seconds);
  }

  /**
   * The features as the head sees them after its pooling: [C, H, W] averaged over H x W
   * (GlobalAveragePool), [T, H] over T (ReduceMean axis 1), [F] as they are.
   */
  static float[][] pooled(float[][] featuresByExample, int[] indices, long[] featureShape) {
    float[][] out = new float[indices.length][];
    int channels = (int) featureShape[0];
    int inner = 1;
    for (int k = 1; k < featureShape.length; k++) {
      inner *= (int) featureShape[k];
    }
    for (int i = 0; i < indices.length; i++) {
      float[] f = featuresByExample[indices[i]];
      if (featureShape.length == 1) {
        out[i] = f;
      } else if (featureShape.length == 3) {
        float[] row = new float[channels];
        for (int c = 0; c < channels; c++) {
          double s = 0;
          for (int k = 0; k < inner; k++) {
            s += f[c * inner + k];
          }
          row[c] = (float) (s / inner);
        }
        out[i] = row;
      } else if (featureShape.length == 2) {
        int tokens = channels;
        int hidden = inner;
        float[] row = new float[hidden];
        for (int t = 0; t < tokens; t++) {
          for (int h = 0; h < hidden; h++) {
            row[h] += f[t * hidden + h];
          }
        }
        for (int h = 0; h < hidden; h++) {
          row[h] /= tokens;
        }
        out[i] = row;
      } else {
        throw new IllegalArgumentException("features of rank " + featureShape.length);
      }
    }
    return out;
  }

  /** {@code graph} with the Gemm that writes the logits holding the fitted weight and bias. */
  static ModelProto withHead(ModelProto graph, SoftmaxRegression.Head head) {
    GraphProto g = graph.getGraph();
    NodeProto gemm =
        g.getNodeList().stream()
            .filter(n -> n.getOutputList().contains(GraphSurgery.LOGITS))
            .filter(n -> n.getOpType().equals("Gemm") && n.getInputCount() == 3)
            .findFirst()
            .orElseThrow(() -> new IllegalStateException("the head has no Gemm writing logits"));
    int classes = head.bias().length;
    int features = head.weight()[0].length;
    float[] w = new float[classes * features];
    for (int c = 0; c < classes; c++) {
      System.arraycopy(head.weight()[c], 0, w, c * features, features);
    }
    Map<String, TensorProto> replaced = new LinkedHashMap<>();
    replaced.put(
        gemm.getInput(1),
        OnnxTensors.floatTensor(gemm.getInput(1), new long[] {classes, features}, w));
    replaced.put(
        gemm.getInput(2),
        OnnxTensors.floatTensor(gemm.getInput(2), new long[] {classes}, head.bias()));
    ModelProto.Builder out = graph.toBuilder();
    GraphProto.Builder b = out.getGraphBuilder();
    for (int i = 0; i < b.getInitializerCount(); i++) {
      TensorProto t = replaced.get(b.getInitializer(i).getName());
      if (t != null) {
        b.setInitializer(i, t);
      }
    }
    return out.build();
  }

  private static int[] pick(int[] labels, int[] indices) {
    int[] out = new int[indices.length];
    for (int i = 0; i < indices.length; i++) {
      out[i] = labels[indices[i]];
    }
    return out;
  }
}
