package dev.graft.training;

import static dev.graft.training.TrainingFixtures.awaitEnd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.api.v1.ClassScore;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictResponse;
import dev.graft.api.v1.Prediction;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.support.GraftTest;
import dev.graft.support.TextDatasetSupport;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A MiniLM classifier trained through gRPC answers {@code Predict} from raw strings with exactly
 * the scores that its downloaded {@code model.onnx} gives in ONNX Runtime on the ids of its
 * downloaded {@code tokenizer.json}, as a client in another language would compute them; a text
 * longer than the model's max_length says it was truncated. Prints Predict's p50 for one short
 * sentence (a figure for the README, not an assertion).
 */
@QuarkusTest
class TextPredictTest extends GraftTest {

  static final int MAX_LENGTH = 32;

  @Inject BaseModelBootstrap bootstrap;

  @TempDir Path dir;

  @Test
  void predictFromRawTextEqualsTheExportedOnnxOnTheTokenizersIds() throws Exception {
    TextDatasetSupport.corpusDir(); // skips without the corpus
    bootstrap.registerMinilm();
    TextDatasetSupport.uploadSpamHam(channel, "spam-ham-predict", 120);
    long experiment = TrainingFixtures.experiment(channel, "text-predict");
    StartRunRequest request =
        StartRunRequest.newBuilder()
            .setExperimentId(experiment)
            .setBaseModel(BaseModelBootstrap.MINILM)
            .setDataset("spam-ham-predict")
            .setStrategy(Strategy.TRANSFER_LEARNING)
            .setHyperParameters(HyperParameters.newBuilder().setMaxSequenceLength(MAX_LENGTH))
            .setSplit(SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2))
            .setSeed(3)
            .setDevice(Device.CPU)
            .setModelName("spam-predict")
            .build();
    Run done =
        awaitEnd(
            channel,
            TrainingServiceGrpc.newBlockingStub(channel).startRun(request).getId(),
            Duration.ofMinutes(5));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());

    ModelRef ref = ModelRef.newBuilder().setName("spam-predict").setAlias("latest").build();
    Path model = download(ref, "", dir.resolve("model.onnx"));
    Path tokenizerFile = download(ref, TextTokenizer.FILE_NAME, dir.resolve("tokenizer.json"));

    List<String> texts =
        List.of(
            "Congratulations, you have won a free cruise! Click here to claim your prize now.",
            "Hi Bob, the meeting moved to Thursday at ten; see the attached agenda.",
            "ok",
            "word ".repeat(200));
    PredictRequest.Builder predict = PredictRequest.newBuilder().setModel(ref);
    texts.forEach(t -> predict.addInputs(Input.newBuilder().setText(t)));
    PredictResponse response =
        InferenceServiceGrpc.newBlockingStub(channel).predict(predict.build());
    assertEquals(texts.size(), response.getPredictionsCount());

    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (TextTokenizer tokenizer = TextTokenizer.load(tokenizerFile, MAX_LENGTH);
        OrtSession session = env.createSession(model.toString(), new OrtSession.SessionOptions())) {
      for (int i = 0; i < texts.size(); i++) {
        TokenBatch ids = tokenizer.encode(List.of(texts.get(i))); // one text: no padding at all
        float[] expected = softmax(logits(env, session, ids));
        Prediction p = response.getPredictions(i);
        assertEquals(ids.truncated()[0], p.getTruncated(), "truncated flag of text " + i);
        assertEquals(expected.length, p.getClassesCount());
        for (ClassScore c : p.getClassesList()) {
          assertEquals(expected[c.getIndex()], c.getScore(), 1e-5, "text " + i + " " + c);
        }
      }
    }
    assertTrue(response.getPredictions(3).getTruncated(), "a 200-word text exceeds 32 tokens");
    assertFalse(response.getPredictions(2).getTruncated());

    PredictRequest one =
        PredictRequest.newBuilder()
            .setModel(ref)
            .addInputs(Input.newBuilder().setText("Is this free offer real?"))
            .build();
    InferenceServiceGrpc.InferenceServiceBlockingStub stub =
        InferenceServiceGrpc.newBlockingStub(channel);
    for (int i = 0; i < 20; i++) {
      stub.predict(one);
    }
    long[] nanos = new long[100];
    for (int i = 0; i < nanos.length; i++) {
      long t0 = System.nanoTime();
      stub.predict(one);
      nanos[i] = System.nanoTime() - t0;
    }
    Arrays.sort(nanos);
    System.out.printf(
        "text Predict, one short sentence, trained MiniLM classifier: p50 %.2f ms, p90 %.2f ms%n",
        nanos[50] / 1e6, nanos[90] / 1e6);
  }

  private Path download(ModelRef ref, String file, Path to) throws Exception {
    Files.write(
        to,
        TrainingFixtures.download(
                channel,
                DownloadModelVersionRequest.newBuilder().setModel(ref).setFile(file).build())
            .toByteArray());
    return to;
  }

  private static float[] logits(OrtEnvironment env, OrtSession session, TokenBatch ids)
      throws Exception {
    long[] shape = {ids.batch(), ids.length()};
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      for (String name : session.getInputNames()) {
        inputs.put(name, OnnxTensor.createTensor(env, LongBuffer.wrap(ids.input(name)), shape));
      }
      try (OrtSession.Result result = session.run(inputs)) {
        return ((float[][]) result.get(0).getValue())[0];
      }
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  private static float[] softmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double sum = 0;
    double[] e = new double[logits.length];
    for (int i = 0; i < logits.length; i++) {
      e[i] = Math.exp(logits[i] - max);
      sum += e[i];
    }
    float[] p = new float[logits.length];
    for (int i = 0; i < logits.length; i++) {
      p[i] = (float) (e[i] / sum);
    }
    return p;
  }
}
