package dev.graft.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.graft.core.GraftException;

/**
 * A small tensor held in Java memory: integer initializers, Constant outputs and the results of
 * shape arithmetic (Shape, Gather, Concat, Reshape...). Keeping them off the device means the shape
 * subgraphs that exporters emit cost no native calls and adapt to any batch size.
 */
final class HostTensor {

  final int onnxType;
  final long[] shape;

  /** Values of integer and bool tensors, else null. */
  final long[] ints;

  /** Values of float tensors, else null. */
  final float[] floats;

  private HostTensor(int onnxType, long[] shape, long[] ints, float[] floats) {
    this.onnxType = onnxType;
    this.shape = shape;
    this.ints = ints;
    this.floats = floats;
  }

  static HostTensor ofLongs(int onnxType, long[] shape, long[] values) {
    return new HostTensor(onnxType, shape, values, null);
  }

  static HostTensor ofFloats(int onnxType, long[] shape, float[] values) {
    return new HostTensor(onnxType, shape, null, values);
  }

  static HostTensor int64(long[] shape, long[] values) {
    return ofLongs(TensorProto.DataType.INT64_VALUE, shape, values);
  }

  static HostTensor of(TensorProto t) {
    if (OnnxTensors.isFloat(t.getDataType())) {
      return ofFloats(t.getDataType(), OnnxTensors.dims(t), OnnxTensors.floats(t));
    }
    return ofLongs(t.getDataType(), OnnxTensors.dims(t), OnnxTensors.longs(t));
  }

  static HostTensor of(NDArray a) {
    long[] shape = a.getShape().getShape();
    int type = onnxType(a.getDataType());
    if (a.getDataType().isFloating()) {
      return ofFloats(type, shape, a.toType(DataType.FLOAT32, false).toFloatArray());
    }
    if (a.getDataType() == DataType.BOOLEAN) {
      boolean[] b = a.toBooleanArray();
      long[] v = new long[b.length];
      for (int i = 0; i < b.length; i++) {
        v[i] = b[i] ? 1 : 0;
      }
      return ofLongs(type, shape, v);
    }
    return ofLongs(type, shape, a.toType(DataType.INT64, false).toLongArray());
  }

  boolean isFloat() {
    return floats != null;
  }

  int size() {
    return isFloat() ? floats.length : ints.length;
  }

  int rank() {
    return shape.length;
  }

  double get(int i) {
    return isFloat() ? floats[i] : ints[i];
  }

  Number scalar() {
    if (isFloat()) {
      return floats[0];
    }
    return ints[0];
  }

  HostTensor reshape(long[] newShape) {
    return new HostTensor(onnxType, newShape, ints, floats);
  }

  NDArray toNd(NDManager manager) {
    Shape s = new Shape(shape);
    switch (onnxType) {
      case TensorProto.DataType.FLOAT_VALUE:
        return manager.create(floats, s);
      case TensorProto.DataType.DOUBLE_VALUE:
        return manager.create(floats, s).toType(DataType.FLOAT64, false);
      case TensorProto.DataType.INT64_VALUE:
        return manager.create(ints, s);
      default:
        return manager.create(ints, s).toType(djlType(onnxType), false);
    }
  }

  static DataType djlType(int onnxType) {
    switch (onnxType) {
      case TensorProto.DataType.FLOAT_VALUE:
        return DataType.FLOAT32;
      case TensorProto.DataType.DOUBLE_VALUE:
        return DataType.FLOAT64;
      case TensorProto.DataType.FLOAT16_VALUE:
        return DataType.FLOAT16;
      case TensorProto.DataType.INT64_VALUE:
        return DataType.INT64;
      case TensorProto.DataType.INT32_VALUE:
        return DataType.INT32;
      case TensorProto.DataType.INT16_VALUE:
        return DataType.INT16;
      case TensorProto.DataType.INT8_VALUE:
        return DataType.INT8;
      case TensorProto.DataType.UINT8_VALUE:
        return DataType.UINT8;
      case TensorProto.DataType.BOOL_VALUE:
        return DataType.BOOLEAN;
      default:
        throw new GraftException.InvalidArgument(
            "element type " + OnnxTensors.typeName(onnxType) + " is not supported");
    }
  }

  static int onnxType(DataType t) {
    switch (t) {
      case FLOAT32:
        return TensorProto.DataType.FLOAT_VALUE;
      case FLOAT64:
        return TensorProto.DataType.DOUBLE_VALUE;
      case FLOAT16:
        return TensorProto.DataType.FLOAT16_VALUE;
      case INT64:
        return TensorProto.DataType.INT64_VALUE;
      case INT32:
        return TensorProto.DataType.INT32_VALUE;
      case INT16:
        return TensorProto.DataType.INT16_VALUE;
      case INT8:
        return TensorProto.DataType.INT8_VALUE;
      case UINT8:
        return TensorProto.DataType.UINT8_VALUE;
      case BOOLEAN:
        return TensorProto.DataType.BOOL_VALUE;
      default:
        throw new GraftException.InvalidArgument(
            "data type " + t + " has no ONNX counterpart here");
    }
  }
}
