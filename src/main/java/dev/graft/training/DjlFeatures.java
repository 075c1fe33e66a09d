package dev.graft.training;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import dev.graft.onnx.OnnxBlock;
import java.util.List;

/**
 * The frozen backbone on {@link OnnxBlock} in inference mode (BatchNorm on its running statistics,
 * as training it frozen would use them), on the run's DJL device. Parameters are initialised on the
 * first batch; each batch runs in its own sub-manager.
 */
final class DjlFeatures implements FeatureExtractor {

  private final NDManager manager;
  private final OnnxBlock block;
  private final Device device;
  private ParameterStore parameters;

  DjlFeatures(ModelProto backbone, Device device) {
    this.device = device;
    this.manager = NDManager.newBaseManager(device);
    try {
      this.block = new OnnxBlock(backbone, name -> false);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  @Override
  public float[][] extract(FeatureBatch batch) {
    List<String> names = block.inputNames();
    if (!batch.inputs().keySet().equals(new java.util.HashSet<>(names))) {
      throw new GraftException.InvalidArgument(
          "the frozen backbone takes the inputs "
              + names
              + ", the feature batch has "
              + batch.inputs().keySet());
    }
    try (NDManager m = manager.newSubManager()) {
      NDList x = new NDList(names.size());
      for (String name : names) {
        FeatureBatch.Tensor t = batch.inputs().get(name);
        Shape shape = new Shape(t.shape());
        x.add(t.floats() != null ? m.create(t.floats(), shape) : m.create(t.longs(), shape));
      }
      if (parameters == null) {
        block.initialize(
            manager, DataType.FLOAT32, x.stream().map(NDArray::getShape).toArray(Shape[]::new));
        parameters = new ParameterStore(manager, false);
      }
      NDArray f = block.forward(parameters, x, false).head();
      float[] flat =
          f.getDataType() == DataType.FLOAT32
              ? f.toFloatArray()
              : f.toType(DataType.FLOAT32, false).toFloatArray();
      int n = batch.size();
      int row = flat.length / n;
      float[][] out = new float[n][];
      for (int i = 0; i < n; i++) {
        out[i] = java.util.Arrays.copyOfRange(flat, i * row, (i + 1) * row);
      }
      return out;
    }
  }

  @Override
  public String engine() {
    return "djl";
  }

  @Override
  public String provider() {
    return device.toString();
  }

  @Override
  public void close() {
    manager.close();
  }
}
