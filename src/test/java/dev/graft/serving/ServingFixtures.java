package dev.graft.serving;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.DownloadModelVersionResponse;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.data.Preprocessing;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.model.NewModelVersion;
import io.grpc.Channel;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import javax.imageio.ImageIO;
import org.eclipse.microprofile.config.ConfigProvider;

/** Registers fixture models in the service under test and runs ONNX Runtime directly for parity. */
public final class ServingFixtures {

  public static final List<String> DIGITS =
      List.of("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine");
  public static final Preprocessing GRAY28 = Preprocessing.unitScale(1, 28, 28);

  private ServingFixtures() {}

  public static String unique(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private static Path dataDir() {
    return Path.of(ConfigProvider.getConfig().getValue("graft.storage.dir", String.class));
  }

  /** An MLP over 8 features with 3 classes, registered (alias latest) under the name. */
  public static ModelVersionInfo registerMlp(
      ModelVersions versions, String name, long seed, Map<String, String> extraMetadata) {
    Path file =
        OnnxFixtures.mlp(
            dataDir().resolve("fixtures").resolve(unique(name) + ".onnx"),
            8,
            16,
            3,
            seed,
            Map.of());
    Map<String, String> metadata = new HashMap<>(extraMetadata);
    metadata.put("graft.run.strategy", "TEST");
    return versions.register(
        new NewModelVersion(
            name,
            file,
            List.of("cat", "dog", "bird"),
            Map.of("name", "input", "shape", List.of(-1, 8), "dtype", "float32"),
            1.5e-6,
            metadata,
            null,
            null));
  }

  /** A CNN over 1×28×28 grayscale images with 10 classes; labels and preprocessing in the file. */
  public static ModelVersionInfo registerCnn(ModelVersions versions, String name, long seed) {
    Map<String, String> meta = OnnxFixtures.metadata(DIGITS, GRAY28);
    Path file =
        OnnxFixtures.cnn(
            dataDir().resolve("fixtures").resolve(unique(name) + ".onnx"), 10, seed, meta);
    return versions.register(
        new NewModelVersion(
            name,
            file,
            DIGITS,
            Map.of("name", "input", "shape", List.of(-1, 1, 28, 28), "dtype", "float32"),
            2e-6,
            meta,
            null,
            null));
  }

  /** Downloads a version through ModelService, as a client would. */
  public static byte[] download(Channel channel, String name, int version) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    Iterator<DownloadModelVersionResponse> it =
        ModelServiceGrpc.newBlockingStub(channel)
            .downloadModelVersion(
                DownloadModelVersionRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(name).setVersion(version))
                    .setChunkSize(4096)
                    .build());
    while (it.hasNext()) {
      DownloadModelVersionResponse r = it.next();
      if (r.hasChunk()) {
        bytes.writeBytes(r.getChunk().toByteArray());
      }
    }
    return bytes.toByteArray();
  }

  /** Logits of ONNX Runtime on an in-memory model. */
  public static float[] ortLogits(byte[] onnx, float[] x, long... shape) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(onnx, options);
        OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
        OrtSession.Result r = session.run(Map.of("input", t))) {
      FloatBuffer out = ((OnnxTensor) r.get(0)).getFloatBuffer();
      float[] v = new float[out.remaining()];
      out.get(v);
      return v;
    }
  }

  public static float[] softmax(float[] logits) {
    return Inference.softmax(logits);
  }

  public static float[] features(Random random, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) random.nextGaussian();
    }
    return x;
  }

  /** A random grayscale 28×28 PNG. */
  public static byte[] png(Random random) throws IOException {
    BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < 28; y++) {
      for (int x = 0; x < 28; x++) {
        int v = random.nextInt(256);
        image.getRaster().setSample(x, y, 0, v);
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(image, "png", out);
    return out.toByteArray();
  }
}
