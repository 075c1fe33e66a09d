package dev.graft.training;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.onnx.OnnxBlock;
import java.util.Arrays;

/**
 * The feature cache: the frozen backbone runs once over the examples (inference mode, so BatchNorm
 * uses its running statistics exactly as it would while training frozen), and every epoch trains
 * the head on the stored features.
 */
final class Features {

  private static final int BATCH = 256;

  private Features() {}

  /** Features of the examples at {@code indices}, stored by example index. */
  static float[][] compute(
      ModelProto backbone,
      BatchSource source,
      int[] indices,
      int datasetSize,
      Device device,
      CancelToken token) {
    float[][] out = new float[datasetSize][];
    int batch = Math.min(BATCH, source.inferenceBatchLimit());
    try (NDManager manager = NDManager.newBaseManager(device)) {
      OnnxBlock block = new OnnxBlock(backbone, name -> false);
      block.initialize(manager, DataType.FLOAT32, source.initShapes());
      ParameterStore parameters = new ParameterStore(manager, false);
      for (int from = 0; from < indices.length; from += batch) {
        token.check();
        int[] idx = Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batch));
        BatchSource.Batch b = source.batch(idx, false, null);
        try (NDManager m = manager.newSubManager()) {
          NDArray f = block.forward(parameters, source.arrays(m, b), false).singletonOrThrow();
          float[] flat = f.toFloatArray();
          int row = flat.length / idx.length;
          for (int i = 0; i < idx.length; i++) {
            out[idx[i]] = Arrays.copyOfRange(flat, i * row, (i + 1) * row);
          }
        }
      }
    }
    return out;
  }
}
