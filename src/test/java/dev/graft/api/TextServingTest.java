package dev.graft.api;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.kserve.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.graft.api.kserve.InferTensorContents;
import dev.graft.api.kserve.ModelInferRequest;
import dev.graft.api.kserve.ModelInferRequest.InferInputTensor;
import dev.graft.api.kserve.ModelInferResponse;
import dev.graft.api.kserve.ModelMetadataRequest;
import dev.graft.api.kserve.ModelMetadataResponse;
import dev.graft.api.kserve.ModelStatistics;
import dev.graft.api.kserve.ModelStatisticsRequest;
import dev.graft.api.v1.ClassScore;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.DownloadModelVersionResponse;
import dev.graft.api.v1.FloatVector;
import dev.graft.api.v1.GetModelVersionRequest;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.InferenceServiceGrpc.InferenceServiceBlockingStub;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelFile;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.ModelVersion;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictResponse;
import dev.graft.api.v1.PredictStreamRequest;
import dev.graft.api.v1.PredictStreamResponse;
import dev.graft.api.v1.Prediction;
import dev.graft.core.Artifacts;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.serving.ModelRegistry;
import dev.graft.serving.ServingFixtures;
import dev.graft.serving.TextFixtures;
import dev.graft.support.GraftTest;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import io.grpc.Status.Code;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Text models served end to end: Predict from raw strings, streams, KServe INT64 and BYTES. */
@QuarkusTest
class TextServingTest extends GraftTest {

  private static final float TOLERANCE = 1e-5f;
  private static final List<String> WORDS =
      List.of(
          "the",
          "film",
          "was",
          "wonderful",
          "terrible",
          "and",
          "a",
          "plot",
          "of",
          "surprising",
          "boring",
          "acting",
          "music",
          "great",
          "not",
          "really",
          "quite",
          "story",
          "ending",
          "characters",
          "unbelievable",
          "charming",
          "slow",
          "dialogue",
          "brilliant");

  @Inject ModelVersions versions;
  private InferenceServiceBlockingStub inference;
  private GRPCInferenceServiceBlockingStub kserve;
  private static TextTokenizer tokenizer;

  @BeforeAll
  static void tokenizer() {
    tokenizer = TextTokenizer.load(TextFixtures.tokenizerFile(), TextTokenizer.DEFAULT_MAX_LENGTH);
  }

  @AfterAll
  static void closeTokenizer() {
    tokenizer.close();
  }

  @BeforeEach
  void stubs() {
    inference = InferenceServiceGrpc.newBlockingStub(channel);
    kserve = GRPCInferenceServiceGrpc.newBlockingStub(channel);
  }

  private static PredictRequest texts(String name, String... texts) {
    PredictRequest.Builder b =
        PredictRequest.newBuilder().setModel(ModelRef.newBuilder().setName(name));
    for (String t : texts) {
      b.addInputs(Input.newBuilder().setText(t));
    }
    return b.build();
  }

  private static float[] scores(Prediction p) {
    float[] s = new float[TextFixtures.LABELS.size()];
    for (ClassScore c : p.getClassesList()) {
      s[c.getIndex()] = c.getScore();
      assertEquals(TextFixtures.LABELS.get(c.getIndex()), c.getLabel());
    }
    return s;
  }

  private static float[] row(float[] values, int row) {
    int classes = TextFixtures.LABELS.size();
    return Arrays.copyOfRange(values, row * classes, (row + 1) * classes);
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], TOLERANCE, what + " [" + i + "]");
    }
  }

  private static String sentence(Random random, int words) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < words; i++) {
      b.append(i == 0 ? "" : " ").append(WORDS.get(random.nextInt(WORDS.size())));
    }
    return b.append('.').toString();
  }

  /** ORT on the registered file, given the tokenizer's own ids for the texts (one batch). */
  private static float[] expectedLogits(ModelVersionInfo v, List<String> texts) throws Exception {
    return TextFixtures.ortLogits(v.onnxPath(), tokenizer.encode(texts));
  }

  @Test
  void predictFromRawStringsEqualsOnnxRuntimeOnTheTokenizersIds() throws Exception {
    String name = ServingFixtures.unique("text");
    ModelVersionInfo v = TextFixtures.register(versions, name, 1, true, null, Map.of());
    String longText = "wonderful ".repeat(300);
    List<String> texts = List.of("A wonderful film.", "Terrible, boring acting!", longText);

    PredictResponse r = inference.predict(texts(name, texts.toArray(String[]::new)));

    assertEquals(name, r.getModelName());
    assertEquals(3, r.getPredictionsCount());
    float[] logits = expectedLogits(v, texts);
    for (int i = 0; i < texts.size(); i++) {
      assertClose(
          ServingFixtures.softmax(row(logits, i)), scores(r.getPredictions(i)), "text " + i);
      assertEquals(TextFixtures.LABELS.size(), r.getPredictions(i).getClassesCount());
    }
    assertFalse(r.getPredictions(0).getTruncated());
    assertFalse(r.getPredictions(1).getTruncated());
    assertTrue(r.getPredictions(2).getTruncated(), "300 words are more than 128 tokens");
    // each text alone, unpadded: the same scores (padding is masked)
    for (int i = 0; i < texts.size(); i++) {
      PredictResponse alone = inference.predict(texts(name, texts.get(i)));
      assertClose(scores(r.getPredictions(i)), scores(alone.getPredictions(0)), "alone " + i);
    }
  }

  @Test
  void aStreamOf200MixedLengthSentencesBatchedEqualsThemUnbatched() throws Exception {
    String name = ServingFixtures.unique("text-stream");
    // The first request of a batch waits 20 ms for others, so batches surely form.
    ModelVersionInfo v =
        TextFixtures.register(
            versions, name, 2, true, null, Map.of(ModelRegistry.MAX_QUEUE_DELAY_MS_KEY, "20"));
    Random random = new Random(7);
    List<String> sentences = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      sentences.add(sentence(random, 1 + random.nextInt(i % 10 == 0 ? 60 : 12)));
    }
    Map<String, PredictStreamResponse> answers = new ConcurrentHashMap<>();
    List<String> order = new ArrayList<>();
    CountDownLatch done = new CountDownLatch(1);
    StreamObserver<PredictStreamRequest> requests =
        InferenceServiceGrpc.newStub(channel)
            .predictStream(
                new StreamObserver<>() {
                  @Override
                  public void onNext(PredictStreamResponse r) {
                    synchronized (order) {
                      order.add(r.getId());
                    }
                    answers.put(r.getId(), r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.countDown();
                  }

                  @Override
                  public void onCompleted() {
                    done.countDown();
                  }
                });
    for (int i = 0; i < sentences.size(); i++) {
      requests.onNext(
          PredictStreamRequest.newBuilder()
              .setId(Integer.toString(i))
              .setRequest(texts(name, sentences.get(i)))
              .build());
    }
    requests.onCompleted();
    assertTrue(done.await(60, TimeUnit.SECONDS));

    assertEquals(200, answers.size());
    for (int i = 0; i < sentences.size(); i++) {
      assertEquals(Integer.toString(i), order.get(i), "responses come in request order");
      PredictStreamResponse r = answers.get(Integer.toString(i));
      assertTrue(r.hasResponse(), r.toString());
      float[] unbatched = expectedLogits(v, List.of(sentences.get(i)));
      assertClose(
          ServingFixtures.softmax(unbatched),
          scores(r.getResponse().getPredictions(0)),
          "sentence " + i);
    }
    ModelStatistics s =
        kserve
            .modelStatistics(
                ModelStatisticsRequest.newBuilder().setName(name).setVersion("1").build())
            .getModelStats(0);
    assertEquals(200, s.getInferenceCount());
    assertTrue(
        s.getExecutionCount() < 200,
        "requests were batched: " + s.getExecutionCount() + " runs for 200");
  }

  private static InferInputTensor.Builder tensor(String name, String type, long... shape) {
    InferInputTensor.Builder t = InferInputTensor.newBuilder().setName(name).setDatatype(type);
    for (long d : shape) {
      t.addShape(d);
    }
    return t;
  }

  private static float[] outputOf(ModelInferResponse r) {
    if (r.getRawOutputContentsCount() > 0) {
      ByteBuffer b =
          r.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      float[] out = new float[b.remaining() / 4];
      b.asFloatBuffer().get(out);
      return out;
    }
    float[] out = new float[r.getOutputs(0).getContents().getFp32ContentsCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = r.getOutputs(0).getContents().getFp32Contents(i);
    }
    return out;
  }

  private static ByteString rawLongs(long[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return ByteString.copyFrom(b.array());
  }

  private static ModelInferRequest.Builder int64Request(
      String name, TokenBatch batch, boolean raw) {
    ModelInferRequest.Builder b = ModelInferRequest.newBuilder().setModelName(name);
    for (String input :
        List.of(
            TextTokenizer.INPUT_IDS, TextTokenizer.ATTENTION_MASK, TextTokenizer.TOKEN_TYPE_IDS)) {
      InferInputTensor.Builder t = tensor(input, "INT64", batch.batch(), batch.length());
      if (raw) {
        b.addRawInputContents(rawLongs(batch.input(input)));
      } else {
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        for (long x : batch.input(input)) {
          c.addInt64Contents(x);
        }
        t.setContents(c);
      }
      b.addInputs(t);
    }
    return b;
  }

  @Test
  void kserveInt64TensorsAndBytesTextsEqualPredict() throws Exception {
    String name = ServingFixtures.unique("text-kserve");
    TextFixtures.register(versions, name, 3, true, null, Map.of());
    List<String> texts = List.of("Brilliant dialogue.", "The ending was slow and not charming.");
    PredictResponse predicted = inference.predict(texts(name, texts.toArray(String[]::new)));
    TokenBatch batch = tokenizer.encode(texts);

    ModelMetadataResponse m =
        kserve.modelMetadata(ModelMetadataRequest.newBuilder().setName(name).build());
    assertEquals(3, m.getInputsCount());
    for (var in : m.getInputsList()) {
      assertEquals("INT64", in.getDatatype());
      assertEquals(List.of(-1L, -1L), in.getShapeList());
    }
    assertEquals(
        List.of(
            TextTokenizer.INPUT_IDS, TextTokenizer.ATTENTION_MASK, TextTokenizer.TOKEN_TYPE_IDS),
        m.getInputsList().stream()
            .map(i -> i.getName())
            .sorted(TextServingTest::tokenOrder)
            .toList());

    List<ModelInferRequest> requests = new ArrayList<>();
    requests.add(int64Request(name, batch, false).build());
    requests.add(int64Request(name, batch, true).build());
    InferInputTensor.Builder bytes = tensor("text", "BYTES", texts.size());
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    for (String t : texts) {
      byte[] utf8 = t.getBytes(StandardCharsets.UTF_8);
      c.addBytesContents(ByteString.copyFrom(utf8));
      raw.writeBytes(
          ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(utf8.length).array());
      raw.writeBytes(utf8);
    }
    requests.add(
        ModelInferRequest.newBuilder()
            .setModelName(name)
            .addInputs(bytes.clone().setContents(c))
            .build());
    requests.add(
        ModelInferRequest.newBuilder()
            .setModelName(name)
            .addInputs(bytes.clone())
            .addRawInputContents(ByteString.copyFrom(raw.toByteArray()))
            .build());

    for (int k = 0; k < requests.size(); k++) {
      ModelInferResponse r = kserve.modelInfer(requests.get(k));
      assertEquals("logits", r.getOutputs(0).getName());
      assertEquals(List.of(2L, 3L), r.getOutputs(0).getShapeList());
      float[] logits = outputOf(r);
      for (int i = 0; i < texts.size(); i++) {
        assertClose(
            scores(predicted.getPredictions(i)),
            ServingFixtures.softmax(row(logits, i)),
            "request " + k + " text " + i);
      }
    }
  }

  private static int tokenOrder(String a, String b) {
    List<String> order =
        List.of(
            TextTokenizer.INPUT_IDS, TextTokenizer.ATTENTION_MASK, TextTokenizer.TOKEN_TYPE_IDS);
    return Integer.compare(order.indexOf(a), order.indexOf(b));
  }

  @Test
  void inputsOfTheWrongKindAreRefusedSayingWhatTheModelTakes() {
    String name = ServingFixtures.unique("text-kinds");
    TextFixtures.register(versions, name, 4, true, null, Map.of());
    String mlp = ServingFixtures.unique("mlp");
    ServingFixtures.registerMlp(versions, mlp, 1, Map.of());
    String cnn = ServingFixtures.unique("cnn");
    ServingFixtures.registerCnn(versions, cnn, 1);

    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 0 is a feature vector; model '"
            + name
            + "' version 1 is a text model and takes text",
        () ->
            inference.predict(
                PredictRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(name))
                    .addInputs(
                        Input.newBuilder().setFeatures(FloatVector.newBuilder().addValues(1)))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 1 is an image; model '" + name + "' version 1 is a text model and takes text",
        () ->
            inference.predict(
                PredictRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(name))
                    .addInputs(Input.newBuilder().setText("fine"))
                    .addInputs(Input.newBuilder().setImage(ByteString.copyFromUtf8("png")))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 0 is text; model '"
            + mlp
            + "' version 1 is not a text model and takes feature"
            + " vectors of 8 floats",
        () -> inference.predict(texts(mlp, "hello")));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "is not a text model and takes images (PNG/JPEG) or feature vectors of 784 floats",
        () -> inference.predict(texts(cnn, "hello")));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 1 is an empty text",
        () -> inference.predict(texts(name, "fine", "  ")));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 0 has 10001 characters, more than 10000 (graft.serving.max-text-chars)",
        () -> inference.predict(texts(name, "a".repeat(10_001))));

    TokenBatch batch = tokenizer.encode(List.of("a short one", "and a longer second text"));
    ModelInferRequest.Builder mismatched = int64Request(name, batch, false);
    mismatched.getInputsBuilder(2).clearShape().addShape(2).addShape(batch.length() - 1);
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 'token_type_ids' has shape [2, " + (batch.length() - 1) + "] but 'input_ids' has",
        () -> kserve.modelInfer(mismatched.build()));
    ModelInferRequest.Builder missing = int64Request(name, batch, false);
    missing.removeInputs(2);
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 'token_type_ids' is missing",
        () -> kserve.modelInfer(missing.build()));
    ModelInferRequest.Builder unknown = int64Request(name, batch, false);
    unknown.getInputsBuilder(0).setName("ids");
    assertStatus(
        Code.INVALID_ARGUMENT,
        "unknown input 'ids'; model '" + name + "' version 1 expects the int64 inputs",
        () -> kserve.modelInfer(unknown.build()));
    ModelInferRequest.Builder outOfVocabulary = int64Request(name, batch, false);
    outOfVocabulary
        .getInputsBuilder(0)
        .getContentsBuilder()
        .setInt64Contents(1, TextFixtures.VOCABULARY);
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 'input_ids' has 30522 at value 1; token ids must be 0-30521",
        () -> kserve.modelInfer(outOfVocabulary.build()));
    ModelInferRequest.Builder fp32 = int64Request(name, batch, false);
    fp32.getInputsBuilder(1).setDatatype("FP32");
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 'attention_mask' has datatype 'FP32'; model '" + name + "' version 1 takes INT64",
        () -> kserve.modelInfer(fp32.build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "needs 2 strings in contents.bytes_contents, got 1",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(
                        tensor("text", "BYTES", 2)
                            .setContents(
                                InferTensorContents.newBuilder()
                                    .addBytesContents(ByteString.copyFromUtf8("one"))))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "element 0 declares 100 bytes but only 3 follow",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("text", "BYTES", 1))
                    .addRawInputContents(
                        ByteString.copyFrom(new byte[] {100, 0, 0, 0, 'a', 'b', 'c'}))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "datatype 'BYTES'; the model takes FP32",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(mlp)
                    .addInputs(
                        tensor("input", "BYTES", 1, 8)
                            .setContents(
                                InferTensorContents.newBuilder()
                                    .addBytesContents(ByteString.copyFromUtf8("hello"))))
                    .build()));
  }

  @Test
  void aTokenModelWithoutTokenizerTakesTensorsButNoText() throws Exception {
    String name = ServingFixtures.unique("tokens");
    ModelVersionInfo v = TextFixtures.register(versions, name, 5, false, null, Map.of());
    assertStatus(
        Code.INVALID_ARGUMENT,
        "takes int64 token tensors [",
        () -> inference.predict(texts(name, "hello")));
    TokenBatch batch = tokenizer.encode(List.of("hello there"));
    ModelInferResponse r = kserve.modelInfer(int64Request(name, batch, true).build());
    assertClose(TextFixtures.ortLogits(v.onnxPath(), batch), outputOf(r), "logits");
  }

  @Test
  void theTokenizerIsAFileOfTheVersionListedAndDownloadableByteForByte() throws Exception {
    String name = ServingFixtures.unique("text-files");
    ModelVersionInfo v = TextFixtures.register(versions, name, 6, true, null, Map.of());
    byte[] original = Files.readAllBytes(TextFixtures.tokenizerFile());
    assertTrue(Files.exists(v.onnxPath().getParent().resolve("tokenizer.json")));

    ModelVersion proto =
        ModelServiceGrpc.newBlockingStub(channel)
            .getModelVersion(
                GetModelVersionRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(name).setVersion(1))
                    .build());
    assertEquals(
        List.of("model.onnx", "tokenizer.json"),
        proto.getFilesList().stream().map(ModelFile::getName).toList());
    assertEquals(Artifacts.sha256(TextFixtures.tokenizerFile()), proto.getFiles(1).getSha256());
    assertEquals(original.length, proto.getFiles(1).getSizeBytes());
    assertEquals(v.sha256(), proto.getFiles(0).getSha256());

    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    String sha = null;
    Iterator<DownloadModelVersionResponse> it =
        ModelServiceGrpc.newBlockingStub(channel)
            .downloadModelVersion(
                DownloadModelVersionRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(name).setVersion(1))
                    .setFile("tokenizer.json")
                    .setChunkSize(64 << 10)
                    .build());
    while (it.hasNext()) {
      DownloadModelVersionResponse r = it.next();
      assertEquals("tokenizer.json", r.getFile());
      if (r.hasChunk()) {
        bytes.writeBytes(r.getChunk().toByteArray());
      } else {
        sha = r.getSha256();
      }
    }
    assertArrayEquals(original, bytes.toByteArray());
    assertEquals(proto.getFiles(1).getSha256(), sha);
    // the default is still the ONNX file
    assertArrayEquals(Files.readAllBytes(v.onnxPath()), ServingFixtures.download(channel, name, 1));
    assertStatus(
        Code.NOT_FOUND,
        "file 'vocab.txt' of model '"
            + name
            + "' version 1 (its files: [model.onnx, tokenizer.json]) does not exist",
        () ->
            ModelServiceGrpc.newBlockingStub(channel)
                .downloadModelVersion(
                    DownloadModelVersionRequest.newBuilder()
                        .setModel(ModelRef.newBuilder().setName(name).setVersion(1))
                        .setFile("vocab.txt")
                        .build())
                .hasNext());
  }

  @Test
  void aTokenizerThatDiffersFromTheExportedOneIsRefusedNamingIt() {
    String name = ServingFixtures.unique("text-sha");
    TextFixtures.register(versions, name, 7, true, "0".repeat(64), Map.of());
    assertStatus(
        Code.FAILED_PRECONDITION,
        "its tokenizer tokenizer.json has sha256 "
            + Artifacts.sha256(TextFixtures.tokenizerFile())
            + " but the model's graft.text metadata records "
            + "0".repeat(64),
        () -> inference.predict(texts(name, "hello")));
  }

  /**
   * Bench (reported, not asserted): Predict p50 over gRPC for one short sentence, against ONNX
   * Runtime in-process on the same tokenised input (tensors made per call, as serving does) and
   * against tokenising plus that run. {@code -Dgraft.bench.rounds} sizes it (default 1000).
   */
  @Test
  void predictLatencyOfOneShortSentence() throws Exception {
    String name = ServingFixtures.unique("text-bench");
    ModelVersionInfo v = TextFixtures.register(versions, name, 8, true, null, Map.of());
    int rounds = Integer.getInteger("graft.bench.rounds", 1000);
    String text = "A wonderful film with a charming story.";
    PredictRequest request = texts(name, text);
    for (int i = 0; i < 300; i++) {
      inference.predict(request);
    }
    long[] grpc = new long[rounds];
    for (int i = 0; i < rounds; i++) {
      long t0 = System.nanoTime();
      inference.predict(request);
      grpc[i] = System.nanoTime() - t0;
    }
    // the same path for an 8-feature MLP, as a yardstick of the machine's gRPC overhead now
    String mlp = ServingFixtures.unique("mlp-bench");
    ServingFixtures.registerMlp(versions, mlp, 1, Map.of());
    PredictRequest features =
        PredictRequest.newBuilder()
            .setModel(ModelRef.newBuilder().setName(mlp))
            .addInputs(
                Input.newBuilder()
                    .setFeatures(
                        FloatVector.newBuilder()
                            .addAllValues(List.of(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f))))
            .build();
    for (int i = 0; i < 300; i++) {
      inference.predict(features);
    }
    long[] floats = new long[rounds];
    for (int i = 0; i < rounds; i++) {
      long t0 = System.nanoTime();
      inference.predict(features);
      floats[i] = System.nanoTime() - t0;
    }
    TokenBatch batch = tokenizer.encode(List.of(text));
    long[] ort = new long[rounds];
    long[] tokenizeAndOrt = new long[rounds];
    ai.onnxruntime.OrtEnvironment env = ai.onnxruntime.OrtEnvironment.getEnvironment();
    try (ai.onnxruntime.OrtSession.SessionOptions options =
            new ai.onnxruntime.OrtSession.SessionOptions();
        ai.onnxruntime.OrtSession session = env.createSession(v.onnxPath().toString(), options)) {
      for (int i = 0; i < 300 + rounds; i++) {
        long t0 = System.nanoTime();
        TokenBatch b = i % 2 == 0 ? tokenizer.encode(List.of(text)) : batch;
        long t1 = System.nanoTime();
        long[] shape = {b.batch(), b.length()};
        try (ai.onnxruntime.OnnxTensor ids =
                ai.onnxruntime.OnnxTensor.createTensor(
                    env, java.nio.LongBuffer.wrap(b.inputIds()), shape);
            ai.onnxruntime.OnnxTensor mask =
                ai.onnxruntime.OnnxTensor.createTensor(
                    env, java.nio.LongBuffer.wrap(b.attentionMask()), shape);
            ai.onnxruntime.OnnxTensor types =
                ai.onnxruntime.OnnxTensor.createTensor(
                    env, java.nio.LongBuffer.wrap(b.tokenTypeIds()), shape);
            ai.onnxruntime.OrtSession.Result r =
                session.run(
                    Map.of(
                        TextTokenizer.INPUT_IDS,
                        ids,
                        TextTokenizer.ATTENTION_MASK,
                        mask,
                        TextTokenizer.TOKEN_TYPE_IDS,
                        types))) {
          r.get(0);
        }
        long t2 = System.nanoTime();
        if (i >= 300) {
          ort[i - 300] = t2 - t1;
          tokenizeAndOrt[i - 300] = t2 - t0;
        }
      }
    }
    System.out.printf(
        "BENCH text Predict one short sentence (%d tokens), %d rounds: gRPC Predict p50 %.1f us"
            + " (p90 %.1f); ORT in-process on the same ids p50 %.1f us; tokenise + ORT p50 %.1f"
            + " us (every other round tokenises; see the even rounds); float MLP Predict p50 %.1f"
            + " us on the same channel%n",
        batch.length(),
        rounds,
        percentile(grpc, 50),
        percentile(grpc, 90),
        percentile(ort, 50),
        percentile(evenRounds(tokenizeAndOrt), 50),
        percentile(floats, 50));
    assertEquals(1, inference.predict(request).getPredictionsCount());
  }

  private static long[] evenRounds(long[] values) {
    long[] out = new long[(values.length + 1) / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = values[2 * i];
    }
    return out;
  }

  private static double percentile(long[] nanos, int p) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return sorted[Math.min(sorted.length - 1, sorted.length * p / 100)] / 1000.0;
  }
}
