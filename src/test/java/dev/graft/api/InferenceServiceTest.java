package dev.graft.api;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.kserve.ModelStatistics;
import dev.graft.api.kserve.ModelStatisticsRequest;
import dev.graft.api.v1.ClassScore;
import dev.graft.api.v1.FloatVector;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.InferenceServiceGrpc.InferenceServiceBlockingStub;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictResponse;
import dev.graft.api.v1.PredictStreamRequest;
import dev.graft.api.v1.PredictStreamResponse;
import dev.graft.api.v1.Prediction;
import dev.graft.api.v1.SetModelAliasRequest;
import dev.graft.model.ModelVersions;
import dev.graft.serving.ServingFixtures;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
class InferenceServiceTest extends GraftTest {

  @Inject ModelVersions versions;
  private InferenceServiceBlockingStub inference;

  @BeforeEach
  void stub() {
    inference = InferenceServiceGrpc.newBlockingStub(channel);
  }

  private static Input features(float[] x) {
    FloatVector.Builder v = FloatVector.newBuilder();
    for (float f : x) {
      v.addValues(f);
    }
    return Input.newBuilder().setFeatures(v).build();
  }

  private static PredictRequest request(String name, int topK, Input... inputs) {
    return PredictRequest.newBuilder()
        .setModel(ModelRef.newBuilder().setName(name))
        .setTopK(topK)
        .addAllInputs(List.of(inputs))
        .build();
  }

  private static void assertScores(float[] expected, Prediction p, List<String> labels) {
    float previous = Float.MAX_VALUE;
    for (ClassScore c : p.getClassesList()) {
      assertEquals(expected[c.getIndex()], c.getScore(), 1e-6f);
      assertEquals(labels.get(c.getIndex()), c.getLabel());
      assertTrue(c.getScore() <= previous);
      previous = c.getScore();
    }
  }

  @Test
  void featurePredictionsEqualOnnxRuntimeOnTheDownloadedFile() throws Exception {
    String name = ServingFixtures.unique("mlp");
    ServingFixtures.registerMlp(versions, name, 11, Map.of());
    byte[] onnx = ServingFixtures.download(channel, name, 1);
    Random random = new Random(5);
    float[] a = ServingFixtures.features(random, 8);
    float[] b = ServingFixtures.features(random, 8);

    PredictResponse r = inference.predict(request(name, 0, features(a), features(b)));

    assertEquals(name, r.getModelName());
    assertEquals(1, r.getModelVersion());
    assertEquals("CPU", r.getExecutionProvider());
    assertEquals(2, r.getPredictionsCount());
    float[] both = new float[16];
    System.arraycopy(a, 0, both, 0, 8);
    System.arraycopy(b, 0, both, 8, 8);
    float[] logits = ServingFixtures.ortLogits(onnx, both, 2, 8);
    List<String> labels = List.of("cat", "dog", "bird");
    for (int i = 0; i < 2; i++) {
      Prediction p = r.getPredictions(i);
      assertEquals(3, p.getClassesCount());
      assertScores(
          ServingFixtures.softmax(java.util.Arrays.copyOfRange(logits, i * 3, i * 3 + 3)),
          p,
          labels);
    }
    PredictResponse top1 = inference.predict(request(name, 1, features(a)));
    assertEquals(1, top1.getPredictions(0).getClassesCount());
    assertEquals(r.getPredictions(0).getClasses(0), top1.getPredictions(0).getClasses(0));
  }

  @Test
  void imagePredictionsUseTheModelsPreprocessingAndEqualOnnxRuntime() throws Exception {
    String name = ServingFixtures.unique("cnn");
    ServingFixtures.registerCnn(versions, name, 4);
    byte[] onnx = ServingFixtures.download(channel, name, 1);
    byte[] png = ServingFixtures.png(new Random(9));

    PredictResponse r =
        inference.predict(
            request(name, 3, Input.newBuilder().setImage(ByteString.copyFrom(png)).build()));

    float[] x = ServingFixtures.GRAY28.apply(png, "test image");
    float[] expected = ServingFixtures.softmax(ServingFixtures.ortLogits(onnx, x, 1, 1, 28, 28));
    assertEquals(3, r.getPredictions(0).getClassesCount());
    assertScores(expected, r.getPredictions(0), ServingFixtures.DIGITS);
  }

  @Test
  void everyBadRequestGetsItsOwnStatusAndOthersAreUndisturbed() throws Exception {
    String mlp = ServingFixtures.unique("mlp");
    ServingFixtures.registerMlp(versions, mlp, 1, Map.of());
    String cnn = ServingFixtures.unique("cnn");
    ServingFixtures.registerCnn(versions, cnn, 1);
    byte[] png = ServingFixtures.png(new Random(1));

    assertStatus(
        Code.NOT_FOUND,
        "model 'nope' does not exist",
        () -> inference.predict(request("nope", 0, features(new float[8]))));
    assertStatus(
        Code.NOT_FOUND,
        "version 4 of model '" + mlp + "'",
        () ->
            inference.predict(
                PredictRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(mlp).setVersion(4))
                    .addInputs(features(new float[8]))
                    .build()));
    assertStatus(
        Code.NOT_FOUND,
        "alias 'prod' of model '" + mlp + "'",
        () ->
            inference.predict(
                PredictRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(mlp).setAlias("prod"))
                    .addInputs(features(new float[8]))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 1 has 5 features; model '" + mlp + "' version 1 expects 8",
        () -> inference.predict(request(mlp, 0, features(new float[8]), features(new float[5]))));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 1 is not a readable PNG or JPEG image",
        () ->
            inference.predict(
                request(
                    cnn,
                    0,
                    Input.newBuilder().setImage(ByteString.copyFrom(png)).build(),
                    Input.newBuilder().setImage(ByteString.copyFromUtf8("not an image")).build())));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "takes feature vectors, not images",
        () ->
            inference.predict(
                request(mlp, 0, Input.newBuilder().setImage(ByteString.copyFrom(png)).build())));
    Input[] tooMany = new Input[257];
    java.util.Arrays.fill(tooMany, features(new float[8]));
    assertStatus(
        Code.RESOURCE_EXHAUSTED,
        "at most 256 inputs",
        () -> inference.predict(request(mlp, 0, tooMany)));
    assertStatus(
        Code.INVALID_ARGUMENT, "at least one input", () -> inference.predict(request(mlp, 0)));
    float[] nan = new float[8];
    nan[5] = Float.NaN;
    float[] inf = new float[8];
    inf[2] = Float.NEGATIVE_INFINITY;
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 1 has NaN at value 5; inputs must be finite numbers",
        () -> inference.predict(request(mlp, 0, features(new float[8]), features(nan))));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 0 has -Infinity at value 2",
        () -> inference.predict(request(mlp, 0, features(inf))));

    assertEquals(
        1, inference.predict(request(mlp, 1, features(new float[8]))).getPredictionsCount());
  }

  @Test
  void prometheusCountsRequestsFailuresBatchSizesAndTimesPerModel() {
    String name = ServingFixtures.unique("metered");
    ServingFixtures.registerMlp(versions, name, 1, Map.of());
    inference.predict(request(name, 1, features(new float[8]), features(new float[8])));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "expects 8",
        () -> inference.predict(request(name, 1, features(new float[2]))));
    String metrics =
        io.restassured.RestAssured.get("/q/metrics").then().statusCode(200).extract().asString();
    String tags = "{model=\"" + name + "\",version=\"1\"}";
    assertTrue(metrics.contains("graft_serving_requests_total" + tags + " 2.0"), metrics);
    assertTrue(metrics.contains("graft_serving_failures_total" + tags + " 1.0"));
    assertTrue(metrics.contains("graft_serving_batch_size_count" + tags + " 1"));
    assertTrue(metrics.contains("graft_serving_batch_size_sum" + tags + " 2.0"));
    assertTrue(metrics.contains("graft_serving_queue_seconds_count" + tags + " 1"));
    assertTrue(metrics.contains("graft_serving_compute_seconds_count" + tags + " 1"));
  }

  /**
   * Runs {@code streams} streams of {@code perStream} requests; returns the responses per stream.
   */
  private List<List<PredictStreamResponse>> runStreams(
      String name, int streams, int perStream, Runnable midway) throws Exception {
    InferenceServiceGrpc.InferenceServiceStub async = InferenceServiceGrpc.newStub(channel);
    List<List<PredictStreamResponse>> results = new ArrayList<>();
    CountDownLatch done = new CountDownLatch(streams);
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    List<StreamObserver<PredictStreamRequest>> senders = new ArrayList<>();
    for (int s = 0; s < streams; s++) {
      List<PredictStreamResponse> mine = java.util.Collections.synchronizedList(new ArrayList<>());
      results.add(mine);
      senders.add(
          async.predictStream(
              new StreamObserver<>() {
                @Override
                public void onNext(PredictStreamResponse r) {
                  mine.add(r);
                }

                @Override
                public void onError(Throwable t) {
                  errors.add(t);
                  done.countDown();
                }

                @Override
                public void onCompleted() {
                  done.countDown();
                }
              }));
    }
    Random random = new Random(3);
    float[] x = ServingFixtures.features(random, 8);
    for (int i = 0; i < perStream; i++) {
      if (i == perStream / 2) {
        midway.run();
      }
      for (int s = 0; s < streams; s++) {
        senders
            .get(s)
            .onNext(
                PredictStreamRequest.newBuilder()
                    .setId(s + ":" + i)
                    .setRequest(request(name, 1, features(x)))
                    .build());
      }
    }
    senders.forEach(StreamObserver::onCompleted);
    assertTrue(done.await(120, TimeUnit.SECONDS), "streams finished");
    assertTrue(errors.isEmpty(), "stream errors: " + errors);
    return results;
  }

  @Test
  void concurrentStreamsKeepOrderAreBatchedAndSurviveAnAliasMove() throws Exception {
    String name = ServingFixtures.unique("streamed");
    ServingFixtures.registerMlp(versions, name, 1, Map.of());
    ServingFixtures.registerMlp(versions, name, 2, Map.of());
    ModelServiceGrpc.ModelServiceBlockingStub models = ModelServiceGrpc.newBlockingStub(channel);
    models.setModelAlias(
        SetModelAliasRequest.newBuilder()
            .setModelName(name)
            .setAlias("latest")
            .setVersion(1)
            .build());
    int streams = 64;
    int perStream = 100;
    AtomicInteger moved = new AtomicInteger();

    List<List<PredictStreamResponse>> results =
        runStreams(
            name,
            streams,
            perStream,
            () -> {
              models.setModelAlias(
                  SetModelAliasRequest.newBuilder()
                      .setModelName(name)
                      .setAlias("latest")
                      .setVersion(2)
                      .build());
              moved.incrementAndGet();
            });

    assertEquals(1, moved.get());
    int fromV2 = 0;
    for (int s = 0; s < streams; s++) {
      List<PredictStreamResponse> mine = results.get(s);
      assertEquals(perStream, mine.size());
      for (int i = 0; i < perStream; i++) {
        PredictStreamResponse r = mine.get(i);
        assertEquals(s + ":" + i, r.getId(), "order of stream " + s);
        assertTrue(r.hasResponse(), "no error: " + r);
        fromV2 += r.getResponse().getModelVersion() == 2 ? 1 : 0;
      }
      assertEquals(2, mine.get(perStream - 1).getResponse().getModelVersion());
    }
    assertTrue(fromV2 >= streams * perStream / 2 - streams * 32, "answers from v2: " + fromV2);

    ModelStatistics stats =
        GRPCInferenceServiceGrpc.newBlockingStub(channel)
            .modelStatistics(
                ModelStatisticsRequest.newBuilder().setName(name).setVersion("1").build())
            .getModelStats(0);
    double averageBatch = (double) stats.getInferenceCount() / stats.getExecutionCount();
    assertTrue(averageBatch > 1, "average batch size " + averageBatch);
    assertEquals(0, stats.getInferenceStats().getFail().getCount());
  }

  @Test
  void aFailedStreamRequestIsAnsweredWithItsErrorAndTheStreamGoesOn() throws Exception {
    String name = ServingFixtures.unique("mixed");
    ServingFixtures.registerMlp(versions, name, 1, Map.of());
    InferenceServiceGrpc.InferenceServiceStub async = InferenceServiceGrpc.newStub(channel);
    List<PredictStreamResponse> got = java.util.Collections.synchronizedList(new ArrayList<>());
    CountDownLatch done = new CountDownLatch(1);
    StreamObserver<PredictStreamRequest> out =
        async.predictStream(
            new StreamObserver<>() {
              @Override
              public void onNext(PredictStreamResponse r) {
                got.add(r);
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
    out.onNext(
        PredictStreamRequest.newBuilder()
            .setId("a")
            .setRequest(request(name, 1, features(new float[8])))
            .build());
    out.onNext(
        PredictStreamRequest.newBuilder()
            .setId("b")
            .setRequest(request(name, 1, features(new float[3])))
            .build());
    out.onNext(
        PredictStreamRequest.newBuilder()
            .setId("c")
            .setRequest(request("missing", 1, features(new float[8])))
            .build());
    out.onNext(
        PredictStreamRequest.newBuilder()
            .setId("d")
            .setRequest(request(name, 1, features(new float[8])))
            .build());
    out.onCompleted();
    assertTrue(done.await(30, TimeUnit.SECONDS));
    assertEquals(
        List.of("a", "b", "c", "d"), got.stream().map(PredictStreamResponse::getId).toList());
    assertTrue(got.get(0).hasResponse());
    assertEquals(Code.INVALID_ARGUMENT.value(), got.get(1).getError().getCode());
    assertTrue(got.get(1).getError().getMessage().contains("expects 8"));
    assertEquals(Code.NOT_FOUND.value(), got.get(2).getError().getCode());
    assertTrue(got.get(3).hasResponse());
  }
}
