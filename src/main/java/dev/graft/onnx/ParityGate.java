package dev.graft.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one batch through the DJL block (inference mode) and through ONNX Runtime on the exported
 * file, and compares every output. {@link #check} reports; {@link #enforce} also throws {@link
 * GraftException.FailedPrecondition} when the outputs differ by more than the tolerance, which is
 * how an export is failed.
 */
public final class ParityGate {

  /** Largest accepted absolute difference unless the caller says otherwise. */
  public static final double DEFAULT_TOLERANCE = 1e-4;

  /**
   * Outcome of a parity check.
   *
   * @param maxAbsDiff largest |djl - ort| over all outputs (infinite on a shape mismatch)
   * @param tolerance the accepted maximum
   * @param worstOutput the output holding the largest difference
   * @param elements how many output values were compared
   */
  public record Result(double maxAbsDiff, double tolerance, String worstOutput, long elements) {
    public boolean passed() {
      return maxAbsDiff <= tolerance;
    }
  }

  private ParityGate() {}

  /** Compares DJL and ORT on {@code batch}; never throws for a mismatch (see {@link #enforce}). */
  public static Result check(OnnxBlock block, NDList batch, Path onnxFile, double tolerance) {
    return check(
        block,
        batch,
        (env, options) -> env.createSession(onnxFile.toString(), options),
        "the exported model " + onnxFile,
        tolerance);
  }

  /**
   * Compares DJL and ORT on {@code batch} for a model held in memory, named {@code what} in errors.
   */
  public static Result check(
      OnnxBlock block, NDList batch, byte[] onnx, String what, double tolerance) {
    return check(block, batch, (env, options) -> env.createSession(onnx, options), what, tolerance);
  }

  private interface SessionSource {
    OrtSession open(OrtEnvironment env, OrtSession.SessionOptions options) throws OrtException;
  }

  private static Result check(
      OnnxBlock block, NDList batch, SessionSource source, String what, double tolerance) {
    List<double[]> djl = new ArrayList<>();
    List<long[]> djlShapes = new ArrayList<>();
    try (NDManager scratch = batch.head().getManager().newSubManager()) {
      NDList local = new NDList(batch.size());
      for (NDArray a : batch) {
        NDArray copy = a.duplicate();
        copy.attach(scratch);
        local.add(copy);
      }
      NDList out = block.forward(new ParameterStore(scratch, false), local, false);
      for (NDArray o : out) {
        djl.add(o.toType(DataType.FLOAT64, false).toDoubleArray());
        djlShapes.add(o.getShape().getShape());
      }
    }
    double max = 0;
    String worst = block.outputNames().isEmpty() ? "" : block.outputNames().get(0);
    long elements = 0;
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = source.open(env, options)) {
      for (int i = 0; i < batch.size(); i++) {
        feeds.put(block.inputNames().get(i), toOrt(env, batch.get(i)));
      }
      try (OrtSession.Result result = session.run(feeds)) {
        for (int i = 0; i < block.outputNames().size(); i++) {
          String name = block.outputNames().get(i);
          OnnxValue v =
              result
                  .get(name)
                  .orElseThrow(
                      () ->
                          new GraftException.FailedPrecondition(
                              what + " has no output '" + name + "'"));
          OnnxTensor t = (OnnxTensor) v;
          long[] shape = t.getInfo().getShape();
          double diff;
          if (!Arrays.equals(shape, djlShapes.get(i))) {
            diff = Double.POSITIVE_INFINITY;
          } else {
            double[] ort = values(t);
            double[] mine = djl.get(i);
            diff = 0;
            for (int k = 0; k < ort.length; k++) {
              double d = Math.abs(ort[k] - mine[k]);
              diff = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(diff, d);
            }
            elements += ort.length;
          }
          if (diff > max || i == 0) {
            max = Math.max(max, diff);
            worst = name;
          }
        }
      }
    } catch (OrtException e) {
      throw new GraftException.FailedPrecondition(
          "ONNX Runtime cannot run " + what + ": " + e.getMessage());
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
    return new Result(max, tolerance, worst, elements);
  }

  /**
   * Like {@link #check} but fails when the difference exceeds the tolerance.
   *
   * @throws GraftException.FailedPrecondition naming the output, difference and tolerance
   */
  public static Result enforce(OnnxBlock block, NDList batch, Path onnxFile, double tolerance) {
    Result r = check(block, batch, onnxFile, tolerance);
    if (!r.passed()) {
      throw new GraftException.FailedPrecondition(
          "parity gate failed for "
              + onnxFile
              + ": output '"
              + r.worstOutput()
              + "' differs from the trained model by "
              + r.maxAbsDiff()
              + " (tolerance "
              + tolerance
              + ")");
    }
    return r;
  }

  static OnnxTensor toOrt(OrtEnvironment env, NDArray a) throws OrtException {
    long[] shape = a.getShape().getShape();
    switch (a.getDataType()) {
      case FLOAT32:
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(a.toFloatArray()), shape);
      case INT64:
        return OnnxTensor.createTensor(env, LongBuffer.wrap(a.toLongArray()), shape);
      case INT32:
        return OnnxTensor.createTensor(env, IntBuffer.wrap(a.toIntArray()), shape);
      default:
        NDArray f = a.toType(DataType.FLOAT32, false);
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(f.toFloatArray()), shape);
    }
  }

  static double[] values(OnnxTensor t) {
    int n = Math.toIntExact(t.getInfo().getNumElements());
    double[] out = new double[n];
    switch (t.getInfo().type) {
      case FLOAT:
        {
          FloatBuffer b = t.getFloatBuffer();
          for (int k = 0; k < n; k++) {
            out[k] = b.get(k);
          }
          return out;
        }
      case DOUBLE:
        t.getDoubleBuffer().get(out);
        return out;
      case INT64:
        {
          LongBuffer b = t.getLongBuffer();
          for (int k = 0; k < n; k++) {
            out[k] = b.get(k);
          }
          return out;
        }
      case INT32:
        {
          IntBuffer b = t.getIntBuffer();
          for (int k = 0; k < n; k++) {
            out[k] = b.get(k);
          }
          return out;
        }
      default:
        {
          ByteBuffer b = t.getByteBuffer().order(ByteOrder.nativeOrder());
          for (int k = 0; k < n; k++) {
            out[k] = b.get(k);
          }
          return out;
        }
    }
  }
}
