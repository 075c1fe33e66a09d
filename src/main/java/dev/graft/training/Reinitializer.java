package dev.graft.training;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.onnx.OnnxTensors;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Replaces a graph's learned weights by fresh ones, as PyTorch would initialise the same layers:
 * the FROM_SCRATCH baseline trains the base model's architecture without its pre-training.
 * Conv/Gemm/MatMul weights and biases are uniform in ±1/sqrt(fan_in) (PyTorch's default
 * Kaiming-uniform with a=sqrt(5)); BatchNorm scale 1, bias 0, running mean 0 and variance 1.
 * Initializers that are settings rather than weights (shapes, Clip bounds...) are kept.
 */
final class Reinitializer {

  private Reinitializer() {}

  static ModelProto randomize(ModelProto model, long seed) {
    return randomize(model, seed, false);
  }

  /**
   * As {@link #randomize(ModelProto, long)}, and every other learnable initializer as BERT
   * initialises it, so that nothing pre-trained survives in a transformer encoder: embedding tables
   * (Gather data) from N(0, 0.02), LayerNorm scales 1 and biases 0 (fused, or decomposed into Mul
   * and Add by older exports), and every other 1-D Add operand (a Linear layer's bias) 0.
   */
  static ModelProto randomizeEncoder(ModelProto model, long seed) {
    return randomize(model, seed, true);
  }

  private static ModelProto randomize(ModelProto model, long seed, boolean everyWeight) {
    Map<String, float[]> fresh = new HashMap<>();
    Map<String, TensorProto> byName = new HashMap<>();
    for (TensorProto t : model.getGraph().getInitializerList()) {
      byName.put(t.getName(), t);
    }
    for (NodeProto node : model.getGraph().getNodeList()) {
      switch (node.getOpType()) {
        case "Conv", "Gemm", "MatMul" -> {
          if (node.getInputCount() < 2 || !byName.containsKey(node.getInput(1))) {
            continue;
          }
          TensorProto w = byName.get(node.getInput(1));
          long fanIn = fanIn(node, w);
          double bound = 1.0 / Math.sqrt(Math.max(fanIn, 1));
          fresh.put(w.getName(), uniform(w, bound, seed));
          if (node.getInputCount() > 2 && byName.containsKey(node.getInput(2))) {
            TensorProto b = byName.get(node.getInput(2));
            fresh.put(b.getName(), uniform(b, bound, seed));
          }
        }
        case "BatchNormalization" -> {
          fill(byName, node, 1, 1f, fresh);
          fill(byName, node, 2, 0f, fresh);
          fill(byName, node, 3, 0f, fresh);
          fill(byName, node, 4, 1f, fresh);
        }
        default -> {}
      }
    }
    if (everyWeight) {
      encoderRest(model, byName, seed, fresh);
    }
    ModelProto.Builder out = model.toBuilder();
    var graph = out.getGraphBuilder();
    for (int i = 0; i < graph.getInitializerCount(); i++) {
      TensorProto t = graph.getInitializer(i);
      float[] values = fresh.get(t.getName());
      if (values != null) {
        graph.setInitializer(i, OnnxTensors.withFloats(t, values));
      }
    }
    return out.build();
  }

  private static void encoderRest(
      ModelProto model, Map<String, TensorProto> byName, long seed, Map<String, float[]> fresh) {
    java.util.Set<String> weights =
        new java.util.HashSet<>(dev.graft.model.GraphParameters.of(model).weights());
    for (NodeProto node : model.getGraph().getNodeList()) {
      for (int k = 0; k < node.getInputCount(); k++) {
        String name = node.getInput(k);
        TensorProto t = byName.get(name);
        if (t == null || fresh.containsKey(name) || !weights.contains(name)) {
          continue;
        }
        String op = node.getOpType();
        if (op.equals("Gather") && k == 0) {
          fresh.put(name, normal(t, 0.02, seed));
        } else if (op.equals("LayerNormalization") && (k == 1 || k == 2)) {
          fresh.put(name, constant(t, k == 1 ? 1f : 0f));
        } else if (t.getDimsCount() == 1 && op.equals("Mul")) {
          fresh.put(name, constant(t, 1f));
        } else if (t.getDimsCount() == 1 && op.equals("Add")) {
          fresh.put(name, constant(t, 0f));
        }
      }
    }
  }

  private static float[] normal(TensorProto t, double std, long seed) {
    java.util.Random random = new java.util.Random(seed * 31 + t.getName().hashCode());
    float[] v = new float[size(t)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (random.nextGaussian() * std);
    }
    return v;
  }

  private static float[] constant(TensorProto t, float value) {
    float[] v = new float[size(t)];
    java.util.Arrays.fill(v, value);
    return v;
  }

  private static long fanIn(NodeProto node, TensorProto w) {
    long[] dims = w.getDimsList().stream().mapToLong(Long::longValue).toArray();
    if (node.getOpType().equals("Conv")) {
      long n = 1;
      for (int i = 1; i < dims.length; i++) {
        n *= dims[i];
      }
      return n;
    }
    boolean transB = false;
    for (AttributeProto a : node.getAttributeList()) {
      if (a.getName().equals("transB")) {
        transB = a.getI() != 0;
      }
    }
    // Gemm with transB holds [out, in] like torch.nn.Linear; MatMul and plain Gemm hold [in, out].
    return dims.length < 2 ? dims[0] : (transB ? dims[1] : dims[0]);
  }

  private static float[] uniform(TensorProto t, double bound, long seed) {
    SplittableRandom random = new SplittableRandom(seed * 31 + t.getName().hashCode());
    float[] v = new float[size(t)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
    }
    return v;
  }

  private static void fill(
      Map<String, TensorProto> byName,
      NodeProto node,
      int input,
      float value,
      Map<String, float[]> out) {
    if (node.getInputCount() > input && byName.containsKey(node.getInput(input))) {
      TensorProto t = byName.get(node.getInput(input));
      float[] v = new float[size(t)];
      java.util.Arrays.fill(v, value);
      out.put(t.getName(), v);
    }
  }

  private static int size(TensorProto t) {
    long n = 1;
    for (long d : t.getDimsList()) {
      n *= d;
    }
    return Math.toIntExact(n);
  }
}
