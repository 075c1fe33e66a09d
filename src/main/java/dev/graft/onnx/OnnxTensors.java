package dev.graft.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import dev.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Reads and writes the payload of ONNX {@link TensorProto}s (typed fields or little-endian raw).
 */
public final class OnnxTensors {

  private OnnxTensors() {}

  /** Dimensions of a tensor as a long array (empty for a scalar). */
  public static long[] dims(TensorProto t) {
    long[] d = new long[t.getDimsCount()];
    for (int i = 0; i < d.length; i++) {
      d[i] = t.getDims(i);
    }
    return d;
  }

  /** Number of elements of the given dimensions (1 for a scalar). */
  public static long size(long[] dims) {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    return n;
  }

  /** True for the element types the executor treats as floating point and trains. */
  public static boolean isFloat(int dataType) {
    return dataType == TensorProto.DataType.FLOAT_VALUE
        || dataType == TensorProto.DataType.DOUBLE_VALUE;
  }

  /** True for the integer-like element types (held as int64 on the host). */
  public static boolean isInteger(int dataType) {
    switch (dataType) {
      case TensorProto.DataType.INT64_VALUE:
      case TensorProto.DataType.INT32_VALUE:
      case TensorProto.DataType.INT16_VALUE:
      case TensorProto.DataType.INT8_VALUE:
      case TensorProto.DataType.UINT8_VALUE:
      case TensorProto.DataType.UINT16_VALUE:
      case TensorProto.DataType.UINT32_VALUE:
      case TensorProto.DataType.BOOL_VALUE:
        return true;
      default:
        return false;
    }
  }

  /** The values of a FLOAT or DOUBLE tensor as floats. */
  public static float[] floats(TensorProto t) {
    requireInline(t);
    int n = Math.toIntExact(size(dims(t)));
    float[] out = new float[n];
    if (t.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
      if (!t.getRawData().isEmpty()) {
        checkRawLength(t, n, 4);
        t.getRawData()
            .asReadOnlyByteBuffer()
            .order(ByteOrder.LITTLE_ENDIAN)
            .asFloatBuffer()
            .get(out);
      } else {
        checkCount(t, n, t.getFloatDataCount());
        for (int i = 0; i < n; i++) {
          out[i] = t.getFloatData(i);
        }
      }
    } else if (t.getDataType() == TensorProto.DataType.DOUBLE_VALUE) {
      if (!t.getRawData().isEmpty()) {
        checkRawLength(t, n, 8);
        var b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
          out[i] = (float) b.getDouble();
        }
      } else {
        checkCount(t, n, t.getDoubleDataCount());
        for (int i = 0; i < n; i++) {
          out[i] = (float) t.getDoubleData(i);
        }
      }
    } else {
      throw new GraftException.InvalidArgument(
          "tensor '"
              + t.getName()
              + "' has element type "
              + typeName(t.getDataType())
              + ", expected FLOAT or DOUBLE");
    }
    return out;
  }

  /** The values of an integer or boolean tensor as longs. */
  public static long[] longs(TensorProto t) {
    requireInline(t);
    int n = Math.toIntExact(size(dims(t)));
    long[] out = new long[n];
    int type = t.getDataType();
    ByteString raw = t.getRawData();
    if (type == TensorProto.DataType.INT64_VALUE) {
      if (!raw.isEmpty()) {
        checkRawLength(t, n, 8);
        raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
      } else {
        checkCount(t, n, t.getInt64DataCount());
        for (int i = 0; i < n; i++) {
          out[i] = t.getInt64Data(i);
        }
      }
      return out;
    }
    if (type == TensorProto.DataType.UINT32_VALUE) {
      if (!raw.isEmpty()) {
        checkRawLength(t, n, 4);
        ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
          out[i] = Integer.toUnsignedLong(b.getInt());
        }
      } else {
        checkCount(t, n, t.getUint64DataCount());
        for (int i = 0; i < n; i++) {
          out[i] = t.getUint64Data(i);
        }
      }
      return out;
    }
    int width = byteWidth(type);
    if (width == 0 || !isInteger(type)) {
      throw new GraftException.InvalidArgument(
          "tensor '"
              + t.getName()
              + "' has element type "
              + typeName(type)
              + ", expected an integer or boolean type");
    }
    if (!raw.isEmpty()) {
      checkRawLength(t, n, width);
      ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      boolean unsigned =
          type == TensorProto.DataType.UINT8_VALUE
              || type == TensorProto.DataType.UINT16_VALUE
              || type == TensorProto.DataType.BOOL_VALUE;
      for (int i = 0; i < n; i++) {
        switch (width) {
          case 1:
            out[i] = unsigned ? Byte.toUnsignedLong(b.get()) : b.get();
            break;
          case 2:
            out[i] = unsigned ? Short.toUnsignedLong(b.getShort()) : b.getShort();
            break;
          default:
            out[i] = b.getInt();
        }
      }
    } else {
      checkCount(t, n, t.getInt32DataCount());
      for (int i = 0; i < n; i++) {
        out[i] = t.getInt32Data(i);
      }
    }
    return out;
  }

  /** A FLOAT tensor with raw little-endian data. */
  public static TensorProto floatTensor(String name, long[] dims, float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return TensorProto.newBuilder()
        .setName(name)
        .setDataType(TensorProto.DataType.FLOAT_VALUE)
        .addAllDims(boxed(dims))
        .setRawData(ByteString.copyFrom(b.array()))
        .build();
  }

  /** An INT64 tensor with raw little-endian data. */
  public static TensorProto longTensor(String name, long[] dims, long[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return TensorProto.newBuilder()
        .setName(name)
        .setDataType(TensorProto.DataType.INT64_VALUE)
        .addAllDims(boxed(dims))
        .setRawData(ByteString.copyFrom(b.array()))
        .build();
  }

  /** The same tensor (name, type, dims) with new float values as raw data. */
  public static TensorProto withFloats(TensorProto t, float[] values) {
    return floatTensor(t.getName(), dims(t), values).toBuilder()
        .setDocString(t.getDocString())
        .build();
  }

  static List<Long> boxed(long[] dims) {
    Long[] out = new Long[dims.length];
    for (int i = 0; i < dims.length; i++) {
      out[i] = dims[i];
    }
    return List.of(out);
  }

  static String typeName(int dataType) {
    TensorProto.DataType t = TensorProto.DataType.forNumber(dataType);
    return t == null ? "type#" + dataType : t.name();
  }

  private static int byteWidth(int type) {
    switch (type) {
      case TensorProto.DataType.INT8_VALUE:
      case TensorProto.DataType.UINT8_VALUE:
      case TensorProto.DataType.BOOL_VALUE:
        return 1;
      case TensorProto.DataType.INT16_VALUE:
      case TensorProto.DataType.UINT16_VALUE:
        return 2;
      case TensorProto.DataType.INT32_VALUE:
        return 4;
      default:
        return 0;
    }
  }

  private static void requireInline(TensorProto t) {
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      throw new GraftException.InvalidArgument(
          "tensor '"
              + t.getName()
              + "' keeps its data in an external file; load the model from"
              + " its path (OnnxImport.load(Path)) so the external data can be read next to it");
    }
  }

  private static void checkRawLength(TensorProto t, int n, int width) {
    if (t.getRawData().size() != (long) n * width) {
      throw new GraftException.InvalidArgument(
          "tensor '"
              + t.getName()
              + "' has "
              + t.getRawData().size()
              + " raw bytes, expected "
              + (long) n * width
              + " for dims "
              + t.getDimsList());
    }
  }

  private static void checkCount(TensorProto t, int n, int count) {
    if (count != n) {
      throw new GraftException.InvalidArgument(
          "tensor '"
              + t.getName()
              + "' holds "
              + count
              + " values, expected "
              + n
              + " for dims "
              + t.getDimsList());
    }
  }
}
