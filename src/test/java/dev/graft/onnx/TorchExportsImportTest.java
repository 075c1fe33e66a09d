package dev.graft.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.core.GraftException;
import dev.graft.model.GraphChecks;
import dev.graft.support.TorchExports;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every PyTorch export of scripts/export-torch-models.sh (ResNet-18, MobileNetV2, a transformer
 * block; BatchNorm kept and folded; opsets 11 to 17) imports into a well-formed graph whose every
 * BatchNormalization owns its four initializers, and computes what ONNX Runtime computes on the
 * file as PyTorch wrote it.
 */
class TorchExportsImportTest {

  static List<TorchExports.Export> exports() {
    return TorchExports.all();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("exports")
  void importUntiesRoutedInitializersAndComputesWhatOrtComputes(TorchExports.Export export)
      throws Exception {
    ModelProto original = ModelProto.parseFrom(export.bytes());
    List<String> unsupported =
        original.getGraph().getNodeList().stream()
            .map(NodeProto::getOpType)
            .filter(op -> !SupportedOps.isSupported("", op))
            .distinct()
            .toList();
    if (!unsupported.isEmpty()) {
      GraftException.InvalidArgument refused =
          assertThrows(GraftException.InvalidArgument.class, () -> OnnxImport.load(export.bytes()));
      assertTrue(
          refused.getMessage().contains("unsupported ONNX operator '" + unsupported.get(0) + "'"),
          refused.getMessage());
      return;
    }
    ModelProto imported = OnnxImport.load(export.bytes());

    assertEquals(List.of(), GraphChecks.problems(imported));
    Set<String> initializers = new HashSet<>();
    imported.getGraph().getInitializerList().forEach(t -> initializers.add(t.getName()));
    Map<String, Integer> readers = new HashMap<>();
    for (NodeProto n : imported.getGraph().getNodeList()) {
      n.getInputList().forEach(i -> readers.merge(i, 1, Integer::sum));
      if (n.getOpType().equals("Identity")) {
        assertTrue(!initializers.contains(n.getInput(0)), n + " still routes an initializer");
      }
    }
    int batchNorms = 0;
    for (NodeProto n : imported.getGraph().getNodeList()) {
      if (!n.getOpType().equals("BatchNormalization")) {
        continue;
      }
      batchNorms++;
      for (int k = 1; k <= 4; k++) {
        String in = n.getInput(k);
        assertTrue(initializers.contains(in), n.getName() + " input " + k + " " + in);
        assertEquals(1, readers.get(in), in + " is read by " + n.getName() + " alone");
      }
      assertTrue(n.getInput(3).endsWith("running_mean"), n.getInput(3));
      assertTrue(n.getInput(4).endsWith("running_var"), n.getInput(4));
    }
    if (export.batchNorm().equals("kept")) {
      assertTrue(batchNorms > 0, "BatchNormalization kept");
    } else {
      assertEquals(0, batchNorms, "BatchNormalization folded");
    }

    long[] shape = new long[export.input().length + 1];
    shape[0] = 3;
    System.arraycopy(export.input(), 0, shape, 1, export.input().length);
    float[] x = random(shape, 5);
    float[] expected = ort(original, x, shape);
    OnnxBlock block = new OnnxBlock(imported, n -> false);
    try (NDManager m = NDManager.newBaseManager()) {
      block.initialize(m, DataType.FLOAT32, new Shape(shape));
      float[] actual =
          block
              .forward(
                  new ParameterStore(m, false), new NDList(m.create(x, new Shape(shape))), false)
              .head()
              .toFloatArray();
      assertArrayEquals(expected, actual, 1e-4f, export.toString());
    }
  }

  private static float[] ort(ModelProto model, float[] x, long[] shape) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(model.toByteArray(), options);
        OnnxTensor input = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
        OrtSession.Result result = session.run(Map.of("input", input))) {
      FloatBuffer b = ((OnnxTensor) result.get(0)).getFloatBuffer();
      float[] out = new float[b.remaining()];
      b.get(out);
      return out;
    }
  }

  private static float[] random(long[] shape, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] data = new float[Math.toIntExact(OnnxTensors.size(shape))];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return data;
  }
}
