package dev.graft.model;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.Map;
import java.util.SplittableRandom;

/** Runs a graph with ONNX Runtime, the reference runtime, on one float input. */
final class OrtRun {

  record Output(long[] shape, float[] values) {}

  private OrtRun() {}

  static Output run(ModelProto model, String input, long[] shape, float[] data)
      throws OrtException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      options.setIntraOpNumThreads(1);
      try (OrtSession session = env.createSession(model.toByteArray(), options);
          OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(data), shape);
          OrtSession.Result result = session.run(Map.of(input, x))) {
        OnnxTensor y = (OnnxTensor) result.get(0);
        FloatBuffer buffer = y.getFloatBuffer();
        float[] values = new float[buffer.remaining()];
        buffer.get(values);
        return new Output(y.getInfo().getShape(), values);
      }
    }
  }

  /** Runs on a seeded standard-normal batch. */
  static Output runRandom(ModelProto model, String input, long... shape) throws OrtException {
    return run(model, input, shape, random(shape, 7));
  }

  static float[] random(long[] shape, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] data = new float[Math.toIntExact(GraphBuilder.elementCount(shape))];
    for (int i = 0; i < data.length; i++) {
      // Box-Muller: normal inputs exercise negative values through ReLU/Clip.
      data[i] =
          (float)
              (Math.sqrt(-2 * Math.log(1 - r.nextDouble()))
                  * Math.cos(2 * Math.PI * r.nextDouble()));
    }
    return data;
  }
}
