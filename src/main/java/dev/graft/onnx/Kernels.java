package dev.graft.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.pooling.Pool;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.core.GraftException;
import java.util.Arrays;

/**
 * Turns ONNX nodes (opset 17 semantics) into {@link Op}s over DJL NDArrays. Attributes are parsed
 * once here; the returned closures only do the arithmetic.
 */
final class Kernels {

  /** One compiled node: maps its runtime inputs (NDArray, HostTensor or null) to one output. */
  @FunctionalInterface
  interface Op {
    Object apply(Object[] in, RunContext ctx);
  }

  /** What a node may learn about its inputs when it is compiled. */
  interface Scope {
    /** The value of an input known before any batch arrives, or null. */
    HostTensor constant(String name);

    /** The DJL parameter behind an input, or null. */
    Parameter parameter(String name);
  }

  /** Per-forward state shared by all ops. */
  static final class RunContext {
    final NDManager manager;
    final boolean training;

    /** Draws dropout masks when set; else the engine's process-wide generator does. */
    final java.util.SplittableRandom random;

    RunContext(NDManager manager, boolean training, java.util.SplittableRandom random) {
      this.manager = manager;
      this.training = training;
      this.random = random;
    }
  }

  private Kernels() {}

  /**
   * Inverted dropout's mask (0, or 1 / (1 - ratio) for kept values) drawn from the run's own
   * generator, so that runs training at the same time each stay reproducible from their seed.
   */
  private static NDArray dropoutMask(NDArray x, float ratio, java.util.SplittableRandom random) {
    float keep = 1f / (1f - ratio);
    float[] mask = new float[Math.toIntExact(x.size())];
    synchronized (random) {
      for (int i = 0; i < mask.length; i++) {
        mask[i] = random.nextDouble() < ratio ? 0f : keep;
      }
    }
    NDArray m = x.getManager().create(mask, x.getShape());
    return m.getDevice().equals(x.getDevice()) ? m : m.toDevice(x.getDevice(), false);
  }

  static Op compile(NodeProto n, String nodeName, Scope scope) {
    Attrs a = new Attrs(n);
    switch (n.getOpType()) {
      case "Identity":
        return (in, c) -> in[0];
      case "Relu":
        return (in, c) -> nd(in[0], c).getNDArrayInternal().relu();
      case "LeakyRelu":
        {
          float alpha = a.f("alpha", 0.01f);
          return (in, c) -> Activation.leakyRelu(nd(in[0], c), alpha);
        }
      case "Sigmoid":
        return (in, c) -> nd(in[0], c).getNDArrayInternal().sigmoid();
      case "Tanh":
        return (in, c) -> nd(in[0], c).tanh();
      case "Erf":
        return (in, c) -> nd(in[0], c).erf();
      case "Sqrt":
        return (in, c) -> nd(in[0], c).sqrt();
      case "Softmax":
        {
          int axis = (int) a.i("axis", -1);
          return (in, c) -> nd(in[0], c).softmax(axis);
        }
      case "Clip":
        return Kernels::clip;
      case "Add":
      case "Sub":
      case "Mul":
      case "Div":
      case "Pow":
        {
          String op = n.getOpType();
          return (in, c) -> binary(op, in[0], in[1], c);
        }
      case "MatMul":
        return (in, c) -> nd(in[0], c).matMul(nd(in[1], c));
      case "Gemm":
        return gemm(a);
      case "Conv":
        return conv(a, nodeName);
      case "BatchNormalization":
        return batchNorm(n, a, scope, nodeName);
      case "Dropout":
        return (in, c) -> {
          float ratio = in.length > 1 && in[1] != null ? host(in[1]).scalar().floatValue() : 0.5f;
          NDArray x = nd(in[0], c);
          if (!c.training || ratio == 0f) {
            return x;
          }
          if (c.random == null) {
            return Dropout.dropout(x, ratio, true).head();
          }
          return x.mul(dropoutMask(x, ratio, c.random));
        };
      case "Flatten":
        {
          int axis = (int) a.i("axis", 1);
          return (in, c) -> {
            long[] s = shapeOf(in[0]);
            int ax = axis < 0 ? axis + s.length : axis;
            long outer = 1;
            for (int k = 0; k < ax; k++) {
              outer *= s[k];
            }
            long inner = 1;
            for (int k = ax; k < s.length; k++) {
              inner *= s[k];
            }
            return reshape(in[0], new long[] {outer, inner});
          };
        }
      case "Reshape":
        {
          boolean allowZero = a.i("allowzero", 0) != 0;
          return (in, c) ->
              reshape(in[0], targetShape(shapeOf(in[0]), host(in[1]).ints, allowZero));
        }
      case "Transpose":
        {
          long[] perm = a.ints("perm");
          return (in, c) -> {
            NDArray x = nd(in[0], c);
            int r = x.getShape().dimension();
            int[] p = new int[r];
            for (int k = 0; k < r; k++) {
              p[k] = perm == null ? r - 1 - k : (int) perm[k];
            }
            return x.transpose(p);
          };
        }
      case "Squeeze":
        return (in, c) -> {
          long[] s = shapeOf(in[0]);
          long[] axes = in.length > 1 && in[1] != null ? host(in[1]).ints : null;
          boolean[] drop = new boolean[s.length];
          if (axes == null) {
            for (int k = 0; k < s.length; k++) {
              drop[k] = s[k] == 1;
            }
          } else {
            for (long ax : axes) {
              drop[(int) (ax < 0 ? ax + s.length : ax)] = true;
            }
          }
          long[] out = new long[s.length];
          int m = 0;
          for (int k = 0; k < s.length; k++) {
            if (!drop[k]) {
              out[m++] = s[k];
            }
          }
          return reshape(in[0], Arrays.copyOf(out, m));
        };
      case "Unsqueeze":
        return (in, c) -> {
          long[] s = shapeOf(in[0]);
          long[] axes = host(in[1]).ints;
          int r = s.length + axes.length;
          boolean[] added = new boolean[r];
          for (long ax : axes) {
            added[(int) (ax < 0 ? ax + r : ax)] = true;
          }
          long[] out = new long[r];
          int j = 0;
          for (int k = 0; k < r; k++) {
            out[k] = added[k] ? 1 : s[j++];
          }
          return reshape(in[0], out);
        };
      case "Concat":
        {
          int axis = (int) a.i("axis", 0);
          return (in, c) -> concat(in, axis, c);
        }
      case "Slice":
        return Kernels::slice;
      case "Gather":
        {
          int axis = (int) a.i("axis", 0);
          return (in, c) -> gather(in[0], in[1], axis, c);
        }
      case "Shape":
        {
          long start = a.i("start", 0);
          Long end = a.has("end") ? a.i("end", 0) : null;
          return (in, c) -> {
            long[] s = shapeOf(in[0]);
            int r = s.length;
            int b = (int) clamp(start < 0 ? start + r : start, 0, r);
            int e = end == null ? r : (int) clamp(end < 0 ? end + r : end, 0, r);
            long[] v = Arrays.copyOfRange(s, b, Math.max(b, e));
            return HostTensor.int64(new long[] {v.length}, v);
          };
        }
      case "Cast":
        {
          int to = (int) a.i("to", TensorProto.DataType.FLOAT_VALUE);
          DataType target = HostTensor.djlType(to);
          return (in, c) -> cast(in[0], to, target);
        }
      case "ReduceMean":
        {
          long[] axes = a.ints("axes");
          boolean keep = a.i("keepdims", 1) != 0;
          return (in, c) -> {
            NDArray x = nd(in[0], c);
            int r = x.getShape().dimension();
            int[] ax;
            if (axes == null || axes.length == 0) {
              ax = new int[r];
              for (int k = 0; k < r; k++) {
                ax[k] = k;
              }
            } else {
              ax = new int[axes.length];
              for (int k = 0; k < axes.length; k++) {
                ax[k] = (int) (axes[k] < 0 ? axes[k] + r : axes[k]);
              }
            }
            return mean(x, ax, keep);
          };
        }
      case "ReduceSum":
        {
          // Opset 13+: axes are an optional int64 input (a constant here); empty or absent axes
          // reduce all of them unless noop_with_empty_axes is set.
          boolean keep = a.i("keepdims", 1) != 0;
          boolean noop = a.i("noop_with_empty_axes", 0) != 0;
          return (in, c) -> {
            NDArray x = nd(in[0], c);
            int r = x.getShape().dimension();
            long[] axes = in.length > 1 && in[1] != null ? host(in[1]).ints : new long[0];
            if (axes.length == 0 && noop) {
              return x;
            }
            int[] ax;
            if (axes.length == 0) {
              ax = new int[r];
              for (int k = 0; k < r; k++) {
                ax[k] = k;
              }
            } else {
              ax = new int[axes.length];
              for (int k = 0; k < axes.length; k++) {
                ax[k] = (int) (axes[k] < 0 ? axes[k] + r : axes[k]);
              }
            }
            Arrays.sort(ax);
            return x.sum(ax, keep);
          };
        }
      case "LayerNormalization":
        {
          long axis = a.i("axis", -1);
          float eps = a.f("epsilon", 1e-5f);
          // Opset 17's fused LayerNorm, what PyTorch exports nn.LayerNorm as from opset 17 on:
          // normalised over the axes from `axis` on, then scaled and shifted elementwise.
          return (in, c) -> {
            NDArray x = nd(in[0], c);
            int r = x.getShape().dimension();
            int from = (int) (axis < 0 ? axis + r : axis);
            int[] ax = new int[r - from];
            for (int k = 0; k < ax.length; k++) {
              ax[k] = from + k;
            }
            NDArray centred = x.sub(mean(x, ax, true));
            NDArray variance = mean(centred.mul(centred), ax, true);
            NDArray y = centred.div(variance.add(eps).sqrt()).mul(nd(in[1], c));
            return in.length > 2 && in[2] != null ? y.add(nd(in[2], c)) : y;
          };
        }
      case "GlobalAveragePool":
        return (in, c) -> {
          NDArray x = nd(in[0], c);
          int r = x.getShape().dimension();
          long[] shape = x.getShape().getShape();
          long[] pooled = shape.clone();
          Arrays.fill(pooled, 2, r, 1);
          return x.reshape(shape[0], shape[1], -1)
              .mean(new int[] {2}, true)
              .reshape(new Shape(pooled));
        };
      case "AveragePool":
      case "MaxPool":
        return pool(n.getOpType().equals("MaxPool"), a, nodeName);
      case "Pad":
        {
          String mode = a.s("mode", "constant");
          if (!mode.equals("constant")) {
            throw new GraftException.InvalidArgument(
                "Pad node '"
                    + nodeName
                    + "' uses mode '"
                    + mode
                    + "'; only 'constant' is supported");
          }
          return Kernels::pad;
        }
      case "Constant":
        {
          HostTensor value = constantValue(n, a, nodeName);
          return (in, c) -> value;
        }
      default:
        throw new GraftException.InvalidArgument(
            "unsupported ONNX operator '"
                + n.getOpType()
                + "' at node '"
                + nodeName
                + "'; supported: "
                + SupportedOps.NAMES);
    }
  }

  // ---- values ----

  static NDArray nd(Object v, RunContext c) {
    if (v instanceof NDArray) {
      return (NDArray) v;
    }
    return ((HostTensor) v).toNd(c.manager);
  }

  static HostTensor host(Object v) {
    if (v instanceof HostTensor) {
      return (HostTensor) v;
    }
    return HostTensor.of((NDArray) v);
  }

  static long[] shapeOf(Object v) {
    if (v instanceof HostTensor) {
      return ((HostTensor) v).shape;
    }
    return ((NDArray) v).getShape().getShape();
  }

  private static Object reshape(Object v, long[] shape) {
    if (v instanceof HostTensor) {
      return ((HostTensor) v).reshape(shape);
    }
    return ((NDArray) v).reshape(new Shape(shape));
  }

  static long[] targetShape(long[] in, long[] requested, boolean allowZero) {
    long[] out = requested.clone();
    int infer = -1;
    long known = 1;
    for (int k = 0; k < out.length; k++) {
      if (out[k] == 0 && !allowZero) {
        out[k] = in[k];
      }
      if (out[k] == -1) {
        infer = k;
      } else {
        known *= out[k];
      }
    }
    if (infer >= 0) {
      long total = OnnxTensors.size(in);
      out[infer] = known == 0 ? 0 : total / known;
    }
    return out;
  }

  private static long clamp(long v, long lo, long hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  // ---- element-wise ----

  private static Object clip(Object[] in, RunContext c) {
    NDArray x = nd(in[0], c);
    Object lo = in.length > 1 ? in[1] : null;
    Object hi = in.length > 2 ? in[2] : null;
    if (lo instanceof HostTensor && hi instanceof HostTensor) {
      return x.clip(((HostTensor) lo).scalar(), ((HostTensor) hi).scalar());
    }
    if (lo != null) {
      x =
          lo instanceof HostTensor
              ? x.maximum(bound((HostTensor) lo, x, c))
              : x.maximum((NDArray) lo);
    }
    if (hi != null) {
      x =
          hi instanceof HostTensor
              ? x.minimum(bound((HostTensor) hi, x, c))
              : x.minimum((NDArray) hi);
    }
    return x;
  }

  /** A Clip bound as a tensor (see {@link #scalarTensor}); integer tensors take it as a number. */
  private static NDArray bound(HostTensor h, NDArray x, RunContext c) {
    return x.getDataType().isFloating()
        ? scalarTensor(h, x, c)
        : c.manager.create(h.scalar().longValue()).toType(x.getDataType(), false);
  }

  private static boolean scalarFor(HostTensor h, NDArray other) {
    return h.size() == 1 && h.rank() <= other.getShape().dimension();
  }

  static Object binary(String op, Object a, Object b, RunContext c) {
    if (a instanceof HostTensor && b instanceof HostTensor) {
      HostTensor r = hostBinary(op, (HostTensor) a, (HostTensor) b);
      if (r != null) {
        return r;
      }
    }
    if (a instanceof NDArray && b instanceof HostTensor && scalarFor((HostTensor) b, (NDArray) a)) {
      NDArray x = (NDArray) a;
      if (x.getDataType().isFloating()) {
        return tensorBinary(op, x, scalarTensor((HostTensor) b, x, c));
      }
      Number s = number(((HostTensor) b).scalar(), x);
      switch (op) {
        case "Add":
          return x.add(s);
        case "Sub":
          return x.sub(s);
        case "Mul":
          return x.mul(s);
        case "Div":
          return intDiv(x, x.div(s));
        default:
          return x.pow(s);
      }
    }
    if (b instanceof NDArray && a instanceof HostTensor && scalarFor((HostTensor) a, (NDArray) b)) {
      NDArray y = (NDArray) b;
      if (y.getDataType().isFloating()) {
        return tensorBinary(op, scalarTensor((HostTensor) a, y, c), y);
      }
      Number s = number(((HostTensor) a).scalar(), y);
      switch (op) {
        case "Add":
          return y.add(s);
        case "Sub":
          return y.getNDArrayInternal().rsub(s);
        case "Mul":
          return y.mul(s);
        case "Div":
          return intDiv(y, y.getNDArrayInternal().rdiv(s));
        default:
          return y.getNDArrayInternal().rpow(s);
      }
    }
    NDArray x = nd(a, c);
    NDArray y = nd(b, c);
    NDArray result = tensorBinary(op, x, y);
    return "Div".equals(op) ? intDiv(x, result) : result;
  }

  private static NDArray tensorBinary(String op, NDArray x, NDArray y) {
    switch (op) {
      case "Add":
        return x.add(y);
      case "Sub":
        return x.sub(y);
      case "Mul":
        return x.mul(y);
      case "Div":
        return x.div(y);
      default:
        return x.pow(y);
    }
  }

  /**
   * A float scalar operand as a tensor in the pass's manager, in memory that PyTorch owns.
   *
   * <p>Not DJL's {@code x.mul(Number)} and the like: those wrap the scalar in a tensor over a Java
   * direct buffer (torch.from_blob) and close it at once, while autograd keeps that tensor for the
   * backward pass of Mul, Div and Pow. A garbage collection between forward and backward freed the
   * buffer, and backward read freed memory: NaN gradients, NaN weights after the optimizer step,
   * NaN logits (issue 13: one fine-tuning run in four on MiniLM, whose attention scaling, GELU and
   * LayerNorm are such scalar ops). {@code full} allocates in libtorch, so the saved tensor owns
   * its memory, and the manager holds it until the batch is done.
   */
  static NDArray scalarTensor(HostTensor h, NDArray like, RunContext c) {
    NDManager manager =
        c.manager.getDevice().equals(like.getDevice()) ? c.manager : like.getManager();
    return manager.full(new Shape(h.shape), h.scalar().floatValue(), like.getDataType());
  }

  private static Number number(Number n, NDArray like) {
    return like.getDataType().isFloating() ? (Number) n.floatValue() : (Number) n.longValue();
  }

  /** ONNX integer division truncates; torch's true division gives floats. */
  private static NDArray intDiv(NDArray operand, NDArray quotient) {
    if (operand.getDataType().isInteger() && quotient.getDataType() != operand.getDataType()) {
      return quotient.toType(operand.getDataType(), false);
    }
    return quotient;
  }

  /** Host arithmetic on shapes; null when broadcasting is more than scalar-vs-tensor. */
  private static HostTensor hostBinary(String op, HostTensor a, HostTensor b) {
    HostTensor big = a.size() >= b.size() ? a : b;
    boolean same = a.size() == b.size() && Arrays.equals(a.shape, b.shape);
    boolean scalar =
        (a.size() == 1 && a.rank() <= b.rank()) || (b.size() == 1 && b.rank() <= a.rank());
    if (!same && !scalar) {
      return null;
    }
    int n = big.size();
    if (a.isFloat() || b.isFloat()) {
      float[] out = new float[n];
      for (int k = 0; k < n; k++) {
        double x = a.get(a.size() == 1 ? 0 : k);
        double y = b.get(b.size() == 1 ? 0 : k);
        out[k] = (float) apply(op, x, y);
      }
      return HostTensor.ofFloats(a.isFloat() ? a.onnxType : b.onnxType, big.shape, out);
    }
    long[] out = new long[n];
    for (int k = 0; k < n; k++) {
      long x = a.ints[a.size() == 1 ? 0 : k];
      long y = b.ints[b.size() == 1 ? 0 : k];
      switch (op) {
        case "Add":
          out[k] = x + y;
          break;
        case "Sub":
          out[k] = x - y;
          break;
        case "Mul":
          out[k] = x * y;
          break;
        case "Div":
          out[k] = x / y;
          break;
        default:
          out[k] = (long) Math.pow(x, y);
      }
    }
    return HostTensor.ofLongs(a.onnxType, big.shape, out);
  }

  private static double apply(String op, double x, double y) {
    switch (op) {
      case "Add":
        return x + y;
      case "Sub":
        return x - y;
      case "Mul":
        return x * y;
      case "Div":
        return x / y;
      default:
        return Math.pow(x, y);
    }
  }

  private static Object cast(Object v, int to, DataType target) {
    if (v instanceof NDArray) {
      return ((NDArray) v).toType(target, false);
    }
    HostTensor h = (HostTensor) v;
    boolean toFloat = OnnxTensors.isFloat(to);
    if (toFloat) {
      if (h.isFloat()) {
        return HostTensor.ofFloats(to, h.shape, h.floats);
      }
      float[] f = new float[h.size()];
      for (int k = 0; k < f.length; k++) {
        f[k] = h.ints[k];
      }
      return HostTensor.ofFloats(to, h.shape, f);
    }
    if (!OnnxTensors.isInteger(to)) {
      throw new GraftException.InvalidArgument(
          "Cast to " + OnnxTensors.typeName(to) + " is not supported");
    }
    boolean toBool = to == TensorProto.DataType.BOOL_VALUE;
    long[] l = new long[h.size()];
    for (int k = 0; k < l.length; k++) {
      double x = h.get(k);
      l[k] = toBool ? (x != 0 ? 1 : 0) : (long) x;
    }
    return HostTensor.ofLongs(to, h.shape, l);
  }

  // ---- linear algebra and convolution ----

  private static Op gemm(Attrs a) {
    float alpha = a.f("alpha", 1f);
    float beta = a.f("beta", 1f);
    boolean transA = a.i("transA", 0) != 0;
    boolean transB = a.i("transB", 0) != 0;
    return (in, c) -> {
      NDArray x = nd(in[0], c);
      NDArray w = nd(in[1], c);
      Object bias = in.length > 2 ? in[2] : null;
      if (!transA
          && transB
          && alpha == 1f
          && beta == 1f
          && (bias == null || shapeOf(bias).length == 1)) {
        // PyTorch's Linear export: one fused addmm.
        return bias == null ? Linear.linear(x, w).head() : Linear.linear(x, w, nd(bias, c)).head();
      }
      NDArray left = transA ? x.transpose() : x;
      NDArray right = transB ? w.transpose() : w;
      NDArray y = left.matMul(right);
      if (alpha != 1f) {
        y = y.mul(c.manager.full(new Shape(), alpha, y.getDataType()));
      }
      if (bias != null) {
        NDArray b = nd(bias, c);
        y = y.add(beta == 1f ? b : b.mul(c.manager.full(new Shape(), beta, b.getDataType())));
      }
      return y;
    };
  }

  /** Pads as [begin_0..begin_n, end_0..end_n] over the spatial axes, resolving auto_pad. */
  private static long[] spatialPads(
      String autoPad,
      long[] pads,
      long[] in,
      long[] kernel,
      long[] stride,
      long[] dil,
      boolean ceil) {
    int n = kernel.length;
    long[] out = new long[2 * n];
    switch (autoPad) {
      case "VALID":
        return out;
      case "SAME_UPPER":
      case "SAME_LOWER":
        for (int k = 0; k < n; k++) {
          long o = (in[k] + stride[k] - 1) / stride[k];
          long total = Math.max(0, (o - 1) * stride[k] + (kernel[k] - 1) * dil[k] + 1 - in[k]);
          long small = total / 2;
          long big = total - small;
          boolean upper = autoPad.equals("SAME_UPPER");
          out[k] = upper ? small : big;
          out[k + n] = upper ? big : small;
        }
        return out;
      default:
        return pads == null ? out : pads;
    }
  }

  private static boolean symmetric(long[] pads) {
    int n = pads.length / 2;
    for (int k = 0; k < n; k++) {
      if (pads[k] != pads[k + n]) {
        return false;
      }
    }
    return true;
  }

  /** torch.nn.functional.pad order: last axis first, (begin, end) pairs. */
  private static Shape torchPads(long[] pads) {
    int n = pads.length / 2;
    long[] t = new long[2 * n];
    for (int k = 0; k < n; k++) {
      int axis = n - 1 - k;
      t[2 * k] = pads[axis];
      t[2 * k + 1] = pads[axis + n];
    }
    return new Shape(t);
  }

  private static long[] ones(int n) {
    long[] o = new long[n];
    Arrays.fill(o, 1);
    return o;
  }

  private static long[] spatial(long[] shape) {
    return Arrays.copyOfRange(shape, 2, shape.length);
  }

  private static Op conv(Attrs a, String nodeName) {
    String autoPad = a.s("auto_pad", "NOTSET");
    long[] pads = a.ints("pads");
    long[] strides = a.ints("strides");
    long[] dilations = a.ints("dilations");
    int group = (int) a.i("group", 1);
    return (in, c) -> {
      NDArray x = nd(in[0], c);
      NDArray w = nd(in[1], c);
      NDArray b = in.length > 2 && in[2] != null ? nd(in[2], c) : null;
      long[] kernel = spatial(w.getShape().getShape());
      int n = kernel.length;
      long[] st = strides == null ? ones(n) : strides;
      long[] dil = dilations == null ? ones(n) : dilations;
      long[] p =
          spatialPads(autoPad, pads, spatial(x.getShape().getShape()), kernel, st, dil, false);
      if (!symmetric(p)) {
        x = x.pad(torchPads(p), 0);
        p = new long[2 * n];
      }
      return x.getNDArrayInternal()
          .convolution(
              x, w, b, new Shape(st), new Shape(Arrays.copyOf(p, n)), new Shape(dil), group)
          .head();
    };
  }

  private static Op pool(boolean max, Attrs a, String nodeName) {
    String autoPad = a.s("auto_pad", "NOTSET");
    long[] kernel = a.ints("kernel_shape");
    long[] pads = a.ints("pads");
    long[] strides = a.ints("strides");
    long[] dilations = a.ints("dilations");
    boolean ceil = a.i("ceil_mode", 0) != 0;
    boolean countPad = a.i("count_include_pad", 0) != 0;
    String op = max ? "MaxPool" : "AveragePool";
    if (kernel == null) {
      throw new GraftException.InvalidArgument(op + " node '" + nodeName + "' has no kernel_shape");
    }
    if (dilations != null && Arrays.stream(dilations).anyMatch(d -> d != 1)) {
      throw new GraftException.InvalidArgument(
          op
              + " node '"
              + nodeName
              + "' uses dilations "
              + Arrays.toString(dilations)
              + "; only dilation 1 is supported");
    }
    if (kernel.length < 1 || kernel.length > 3) {
      throw new GraftException.InvalidArgument(
          op
              + " node '"
              + nodeName
              + "' pools over "
              + kernel.length
              + " axes; 1 to 3 are supported");
    }
    int n = kernel.length;
    long[] st = strides == null ? ones(n) : strides;
    Shape k = new Shape(kernel);
    Shape s = new Shape(st);
    return (in, c) -> {
      NDArray x = nd(in[0], c);
      long[] p =
          spatialPads(autoPad, pads, spatial(x.getShape().getShape()), kernel, st, ones(n), ceil);
      boolean noPads = Arrays.stream(p).allMatch(v -> v == 0);
      // DJL's PyTorch avg_pool always counts padding, so padding that must not count goes the
      // explicit way below.
      if (noPads || (symmetric(p) && (max || countPad))) {
        return pool(max, x, k, s, new Shape(Arrays.copyOf(p, n)), ceil, countPad);
      }
      Shape zero = new Shape(new long[n]);
      if (max) {
        return pool(true, x.pad(torchPads(p), Double.NEGATIVE_INFINITY), k, s, zero, ceil, false);
      }
      NDArray sums = pool(false, x.pad(torchPads(p), 0), k, s, zero, ceil, true);
      if (countPad) {
        return sums;
      }
      // Mean over real elements only: divide by the share of each window that is not padding.
      long[] maskShape = x.getShape().getShape().clone();
      maskShape[0] = 1;
      maskShape[1] = 1;
      NDArray mask = c.manager.ones(new Shape(maskShape), x.getDataType()).pad(torchPads(p), 0);
      return sums.div(pool(false, mask, k, s, zero, ceil, true));
    };
  }

  private static NDArray pool(
      boolean max, NDArray x, Shape k, Shape s, Shape p, boolean ceil, boolean countPad) {
    switch (k.dimension()) {
      case 1:
        return max ? Pool.maxPool1d(x, k, s, p, ceil) : Pool.avgPool1d(x, k, s, p, ceil, countPad);
      case 2:
        return max ? Pool.maxPool2d(x, k, s, p, ceil) : Pool.avgPool2d(x, k, s, p, ceil, countPad);
      default:
        return max ? Pool.maxPool3d(x, k, s, p, ceil) : Pool.avgPool3d(x, k, s, p, ceil, countPad);
    }
  }

  private static Op batchNorm(NodeProto n, Attrs a, Scope scope, String nodeName) {
    float eps = a.f("epsilon", 1e-5f);
    float momentum = a.f("momentum", 0.9f);
    Parameter scale = scope.parameter(n.getInput(1));
    Parameter bias = scope.parameter(n.getInput(2));
    Parameter mean = scope.parameter(n.getInput(3));
    Parameter var = scope.parameter(n.getInput(4));
    if (mean == null || var == null) {
      throw new GraftException.InvalidArgument(
          "BatchNormalization node '"
              + nodeName
              + "' must take its mean and variance from float"
              + " initializers");
    }
    return (in, c) -> {
      NDArray x = nd(in[0], c);
      // A normalisation layer inside a frozen part keeps its running statistics, as in PyTorch
      // transfer learning with the backbone in eval mode.
      boolean train =
          c.training
              && ((scale != null && scale.requiresGradient())
                  || (bias != null && bias.requiresGradient()));
      // DJL and ONNX share the momentum convention (running = running * m + batch * (1 - m));
      // axis -1 is the PyTorch engine's direct call with channels on axis 1.
      int axis = "PyTorch".equals(x.getManager().getEngine().getEngineName()) ? -1 : 1;
      return BatchNorm.batchNorm(
              x,
              (NDArray) in[3],
              (NDArray) in[4],
              nd(in[1], c),
              nd(in[2], c),
              axis,
              momentum,
              eps,
              train)
          .head();
    };
  }

  /** Mean over several axes; the PyTorch engine reduces one axis per call. */
  private static NDArray mean(NDArray x, int[] axes, boolean keep) {
    int[] sorted = axes.clone();
    Arrays.sort(sorted);
    if (sorted.length == 1) {
      return x.mean(sorted, keep);
    }
    long[] shape = x.getShape().getShape();
    NDArray y = x;
    for (int k = sorted.length - 1; k >= 0; k--) {
      y = y.mean(new int[] {sorted[k]}, true);
    }
    if (keep) {
      return y;
    }
    long[] out = new long[shape.length - sorted.length];
    int m = 0;
    for (int k = 0; k < shape.length; k++) {
      if (Arrays.binarySearch(sorted, k) < 0) {
        out[m++] = shape[k];
      }
    }
    return y.reshape(new Shape(out));
  }

  // ---- shape and indexing ----

  private static Object concat(Object[] in, int axis, RunContext c) {
    boolean allHost = true;
    for (Object v : in) {
      allHost &= v instanceof HostTensor && ((HostTensor) v).rank() == 1;
    }
    if (allHost) {
      HostTensor first = (HostTensor) in[0];
      int total = 0;
      for (Object v : in) {
        total += ((HostTensor) v).size();
      }
      if (first.isFloat()) {
        float[] out = new float[total];
        int at = 0;
        for (Object v : in) {
          float[] f = host(v).floats;
          System.arraycopy(f, 0, out, at, f.length);
          at += f.length;
        }
        return HostTensor.ofFloats(first.onnxType, new long[] {total}, out);
      }
      long[] out = new long[total];
      int at = 0;
      for (Object v : in) {
        long[] l = host(v).ints;
        System.arraycopy(l, 0, out, at, l.length);
        at += l.length;
      }
      return HostTensor.ofLongs(first.onnxType, new long[] {total}, out);
    }
    NDList parts = new NDList(in.length);
    for (Object v : in) {
      parts.add(nd(v, c));
    }
    int r = parts.head().getShape().dimension();
    return NDArrays.concat(parts, axis < 0 ? axis + r : axis);
  }

  private static Object slice(Object[] in, RunContext c) {
    long[] shape = shapeOf(in[0]);
    int r = shape.length;
    long[] starts = host(in[1]).ints;
    long[] ends = host(in[2]).ints;
    long[] axes = in.length > 3 && in[3] != null ? host(in[3]).ints : null;
    long[] steps = in.length > 4 && in[4] != null ? host(in[4]).ints : null;
    long[] begin = new long[r];
    long[] end = shape.clone();
    long[] step = ones(r);
    for (int k = 0; k < starts.length; k++) {
      int ax = (int) (axes == null ? k : axes[k] < 0 ? axes[k] + r : axes[k]);
      long dim = shape[ax];
      long st = steps == null ? 1 : steps[k];
      long b = starts[k] < 0 ? starts[k] + dim : starts[k];
      long e = ends[k] < 0 && ends[k] != Long.MIN_VALUE ? ends[k] + dim : ends[k];
      if (ends[k] == Long.MIN_VALUE) {
        e = -1;
      }
      if (st > 0) {
        b = clamp(b, 0, dim);
        e = clamp(e, 0, dim);
      } else {
        b = clamp(b, 0, dim - 1);
        e = clamp(e, -1, dim - 1);
      }
      begin[ax] = b;
      end[ax] = e;
      step[ax] = st;
    }
    if (in[0] instanceof HostTensor && r == 1) {
      HostTensor h = (HostTensor) in[0];
      int count = 0;
      int[] idx = new int[(int) shape[0]];
      for (long i = begin[0]; step[0] > 0 ? i < end[0] : i > end[0]; i += step[0]) {
        idx[count++] = (int) i;
      }
      if (h.isFloat()) {
        float[] out = new float[count];
        for (int k = 0; k < count; k++) {
          out[k] = h.floats[idx[k]];
        }
        return HostTensor.ofFloats(h.onnxType, new long[] {count}, out);
      }
      long[] out = new long[count];
      for (int k = 0; k < count; k++) {
        out[k] = h.ints[idx[k]];
      }
      return HostTensor.ofLongs(h.onnxType, new long[] {count}, out);
    }
    NDArray x = nd(in[0], c);
    NDIndex index = new NDIndex();
    boolean needed = false;
    for (int ax = 0; ax < r; ax++) {
      long dim = shape[ax];
      if (step[ax] < 0) {
        // torch slices only forward: flip the axis and walk it forward.
        x = x.flip(ax);
        long b = dim - 1 - begin[ax];
        long e = dim - 1 - end[ax];
        index.addSliceDim(b, Math.max(b, e), -step[ax]);
        needed = true;
      } else if (begin[ax] == 0 && end[ax] == dim && step[ax] == 1) {
        index.addAllDim();
      } else {
        index.addSliceDim(begin[ax], Math.max(begin[ax], end[ax]), step[ax]);
        needed = true;
      }
    }
    return needed ? x.get(index) : x;
  }

  private static Object gather(Object data, Object indices, int axisAttr, RunContext c) {
    long[] dShape = shapeOf(data);
    int r = dShape.length;
    int axis = axisAttr < 0 ? axisAttr + r : axisAttr;
    long dim = dShape[axis];
    if (data instanceof HostTensor && indices instanceof HostTensor) {
      return hostGather((HostTensor) data, (HostTensor) indices, axis);
    }
    NDArray x = nd(data, c);
    if (indices instanceof HostTensor && ((HostTensor) indices).rank() == 0) {
      long i = ((HostTensor) indices).ints[0];
      NDIndex index = new NDIndex();
      for (int k = 0; k < axis; k++) {
        index.addAllDim();
      }
      return x.get(index.addIndices(i < 0 ? i + dim : i));
    }
    NDArray idx;
    if (indices instanceof HostTensor) {
      HostTensor h = (HostTensor) indices;
      long[] v = new long[h.size()];
      for (int k = 0; k < v.length; k++) {
        v[k] = h.ints[k] < 0 ? h.ints[k] + dim : h.ints[k];
      }
      idx = c.manager.create(v, new Shape(h.shape));
    } else {
      // torch advanced indexing wraps negative tensor indices like ONNX does.
      idx = ((NDArray) indices).toType(DataType.INT64, false);
    }
    return x.get(new NDIndex(":,".repeat(axis) + "{}", idx));
  }

  private static HostTensor hostGather(HostTensor d, HostTensor idx, int axis) {
    long[] s = d.shape;
    long outer = 1;
    for (int k = 0; k < axis; k++) {
      outer *= s[k];
    }
    long inner = 1;
    for (int k = axis + 1; k < s.length; k++) {
      inner *= s[k];
    }
    long dim = s[axis];
    int m = idx.size();
    long[] outShape = new long[s.length - 1 + idx.rank()];
    System.arraycopy(s, 0, outShape, 0, axis);
    System.arraycopy(idx.shape, 0, outShape, axis, idx.rank());
    System.arraycopy(s, axis + 1, outShape, axis + idx.rank(), s.length - axis - 1);
    int n = (int) (outer * m * inner);
    long[] li = d.isFloat() ? null : new long[n];
    float[] lf = d.isFloat() ? new float[n] : null;
    int at = 0;
    for (long o = 0; o < outer; o++) {
      for (int j = 0; j < m; j++) {
        long i = idx.ints[j] < 0 ? idx.ints[j] + dim : idx.ints[j];
        long src = (o * dim + i) * inner;
        for (long q = 0; q < inner; q++) {
          if (lf != null) {
            lf[at++] = d.floats[(int) (src + q)];
          } else {
            li[at++] = d.ints[(int) (src + q)];
          }
        }
      }
    }
    return lf != null
        ? HostTensor.ofFloats(d.onnxType, outShape, lf)
        : HostTensor.ofLongs(d.onnxType, outShape, li);
  }

  private static Object pad(Object[] in, RunContext c) {
    NDArray x = nd(in[0], c);
    long[] pads = host(in[1]).ints;
    double value = in.length > 2 && in[2] != null ? host(in[2]).get(0) : 0;
    long[] full = pads;
    if (in.length > 3 && in[3] != null) {
      int r = x.getShape().dimension();
      long[] axes = host(in[3]).ints;
      full = new long[2 * r];
      for (int k = 0; k < axes.length; k++) {
        int ax = (int) (axes[k] < 0 ? axes[k] + r : axes[k]);
        full[ax] = pads[k];
        full[ax + r] = pads[k + axes.length];
      }
    }
    return x.pad(torchPads(full), value);
  }

  private static HostTensor constantValue(NodeProto n, Attrs a, String nodeName) {
    for (AttributeProto attr : n.getAttributeList()) {
      switch (attr.getName()) {
        case "value":
          return HostTensor.of(attr.getT());
        case "value_float":
          return HostTensor.ofFloats(
              TensorProto.DataType.FLOAT_VALUE, new long[0], new float[] {attr.getF()});
        case "value_floats":
          {
            float[] f = new float[attr.getFloatsCount()];
            for (int k = 0; k < f.length; k++) {
              f[k] = attr.getFloats(k);
            }
            return HostTensor.ofFloats(TensorProto.DataType.FLOAT_VALUE, new long[] {f.length}, f);
          }
        case "value_int":
          return HostTensor.int64(new long[0], new long[] {attr.getI()});
        case "value_ints":
          {
            long[] l = a.ints("value_ints");
            return HostTensor.int64(new long[] {l.length}, l);
          }
        default:
          break;
      }
    }
    throw new GraftException.InvalidArgument(
        "Constant node '"
            + nodeName
            + "' has no supported value attribute (value, value_float(s),"
            + " value_int(s))");
  }
}
