package dev.graft.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictResponse;
import dev.graft.api.v1.PredictStreamRequest;
import dev.graft.api.v1.PredictStreamResponse;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SetModelAliasRequest;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.serving.ServingFixtures;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Scale-out across processes, as on Kubernetes but without it: one PostgreSQL (started here) and
 * one artifact directory shared by an {@code api}, two {@code trainer} and two {@code inference}
 * processes. Runs are queued through the api and claimed by a trainer; WatchRun through the api
 * process streams them; a version published and an alias moved through the api reach both inference
 * processes (whose alias cache is set to an hour, so that only the notification can explain it)
 * within the bound; the inference role refuses training and never loads libtorch; start time and
 * RSS of every role are logged.
 */
class ScaleOutServingIT {

  /** What the README states for a move through the graft_models notification (typical < 1 s). */
  private static final Duration PROPAGATION_BOUND = Duration.ofSeconds(2);

  private final Path dataDir = Path.of("target", "it-scale-out-" + System.nanoTime());
  private final List<GraftProcess> started = new ArrayList<>();
  private final Map<String, String> measured = new LinkedHashMap<>();
  private EmbeddedPostgres postgres;

  @AfterEach
  void stopEverything() throws Exception {
    for (GraftProcess p : started) {
      p.close();
    }
    if (postgres != null) {
      postgres.close();
    }
  }

  private ManagedChannel start(String name, String role, List<String> args) throws Exception {
    String url = "jdbc:postgresql://localhost:" + postgres.getPort() + "/postgres";
    GraftProcess p =
        new GraftProcess(
                dataDir,
                GraftProcess.freePort(),
                GraftProcess.freePort(),
                dataDir.resolve(name + ".log"))
            .withExternalDatabase(url, "postgres", "postgres");
    List<String> all = new ArrayList<>(List.of("-Dgraft.role=" + role));
    all.addAll(args);
    p.withArgs(all);
    started.add(p);
    long t0 = System.nanoTime();
    ManagedChannel channel = p.start(Duration.ofMinutes(3));
    double seconds = (System.nanoTime() - t0) / 1e9;
    long rssKb = rssKb(p.handle().pid());
    String line =
        String.format(
            "%-12s role=%-9s ready after %5.1f s, VmRSS %4d MiB, libtorch %s, onnxruntime %s",
            name,
            role,
            seconds,
            rssKb / 1024,
            mapped(p.handle().pid(), "libtorch") ? "loaded" : "not loaded",
            mapped(p.handle().pid(), "onnxruntime") ? "loaded" : "not loaded");
    measured.put(name, line);
    System.out.println("ScaleOutServingIT: " + line);
    return channel;
  }

  @Test
  void runsWatchedThroughTheApiAndModelsServedByEveryInferenceReplica() throws Exception {
    Files.createDirectories(dataDir);
    postgres = EmbeddedPostgres.builder().start();
    List<String> small = List.of("-Xmx1g");
    List<String> inferenceArgs = List.of("-Xmx1g", "-Dgraft.serving.alias-cache-ttl=1h");

    // The api starts first and migrates the shared schema (Flyway's lock serialises the others).
    ManagedChannel api = start("api", "api", small);
    ManagedChannel inference1 = start("inference-1", "inference", inferenceArgs);
    ManagedChannel inference2 = start("inference-2", "inference", inferenceArgs);
    ManagedChannel trainer = start("trainer-1", "trainer", small);
    ManagedChannel trainer2 = start("trainer-2", "trainer", small);

    for (ManagedChannel c : List.of(api, inference1, inference2, trainer, trainer2)) {
      assertEquals(ServingStatus.SERVING, health(c, ""));
    }
    assertFalse(mapped(started.get(1).handle().pid(), "libtorch"), "inference loads no libtorch");
    assertTrue(mapped(started.get(1).handle().pid(), "onnxruntime"), "inference loads ORT");
    assertFalse(mapped(started.get(0).handle().pid(), "onnxruntime"), "the api serves nothing");

    // The roles refuse what they do not serve, and say where to go.
    StatusRuntimeException refused =
        expectFailure(
            () ->
                TrainingServiceGrpc.newBlockingStub(inference1)
                    .startRun(StartRunRequest.newBuilder().setExperimentId(1).build()));
    assertEquals(Status.Code.UNIMPLEMENTED, refused.getStatus().getCode());
    assertEquals(
        "this Graft process has graft.role=inference; TrainingService/StartRun is served by the"
            + " api role (Service graft-api, or a process with graft.role=all)",
        refused.getStatus().getDescription());
    assertEquals(
        Status.Code.UNIMPLEMENTED,
        expectFailure(() -> predict(api, ModelRef.newBuilder().setName("x").build()))
            .getStatus()
            .getCode());
    assertEquals(
        Status.Code.UNIMPLEMENTED,
        expectFailure(
                () ->
                    ExperimentServiceGrpc.newBlockingStub(trainer)
                        .createExperiment(
                            CreateExperimentRequest.newBuilder().setName("n").build()))
            .getStatus()
            .getCode());
    assertEquals(
        Status.Code.NOT_FOUND,
        expectFailure(() -> health(inference2, "graft.v1.TrainingService")).getStatus().getCode());

    // Data, base model and runs through the api process; the trainer claims and trains them.
    DatasetServiceGrpc.newBlockingStub(api)
        .registerDataset(
            RegisterDatasetRequest.newBuilder()
                .setName("shapes")
                .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                .setExamplesPerClass(60)
                .setSeed(4)
                .build());
    long experiment =
        ExperimentServiceGrpc.newBlockingStub(api)
            .createExperiment(CreateExperimentRequest.newBuilder().setName("scale-out").build())
            .getId();
    long pretraining =
        ModelServiceGrpc.newBlockingStub(api)
            .pretrainBaseModel(
                PretrainBaseModelRequest.newBuilder()
                    .setName("it-base")
                    .setArchitecture("cnn-small")
                    .setDataset("shapes")
                    .setExperimentId(experiment)
                    .setHyperParameters(HyperParameters.newBuilder().setEpochs(2).setBatchSize(16))
                    .setSeed(9)
                    .setDevice(Device.CPU)
                    .build())
            .getId();
    List<RunEvent> watched = watchAll(api, pretraining);
    assertWatchedLive(watched, "pre-training");

    StartRunRequest run =
        StartRunRequest.newBuilder()
            .setExperimentId(experiment)
            .setBaseModel("it-base")
            .setDataset("shapes")
            .setStrategy(Strategy.TRANSFER_LEARNING)
            .setHyperParameters(HyperParameters.newBuilder().setEpochs(2).setBatchSize(16))
            .setSplit(SplitSpec.newBuilder().setValidationFraction(0.2))
            .setSeed(1)
            .setDevice(Device.CPU)
            .setModelName("scaled")
            .build();
    long first = TrainingServiceGrpc.newBlockingStub(api).startRun(run).getId();
    List<RunEvent> firstEvents = watchAll(api, first);
    assertWatchedLive(firstEvents, "run " + first);
    assertTrue(firstEvents.stream().anyMatch(RunEvent::hasExport), firstEvents.toString());
    String owner =
        TrainingServiceGrpc.newBlockingStub(api)
            .getRun(GetRunRequest.newBuilder().setRunId(first).build())
            .getOwner();
    assertTrue(owner.startsWith("trainer@"), "trained by a trainer process, not " + owner);

    ModelRef latest = ModelRef.newBuilder().setName("scaled").setAlias("latest").build();
    ModelRef prod = ModelRef.newBuilder().setName("scaled").setAlias("prod").build();
    for (ManagedChannel c : List.of(inference1, inference2)) {
      assertEquals(1, predict(c, latest).getModelVersion());
    }

    // A new version: its run publishes it and moves latest (in the trainer process).
    long second =
        TrainingServiceGrpc.newBlockingStub(api)
            .startRun(run.toBuilder().setSeed(2).build())
            .getId();
    List<RunEvent> secondEvents = watchAll(api, second);
    assertWatchedLive(secondEvents, "run " + second);
    long published = System.nanoTime();
    for (ManagedChannel c : List.of(inference1, inference2)) {
      double ms = awaitVersion(c, latest, 2, published);
      measured.put(
          "published-" + measured.size(), "version 2 served as latest after " + ms + " ms");
    }

    // An alias moved through the api process.
    var models = ModelServiceGrpc.newBlockingStub(api);
    models.setModelAlias(
        SetModelAliasRequest.newBuilder()
            .setModelName("scaled")
            .setAlias("prod")
            .setVersion(1)
            .build());
    for (ManagedChannel c : List.of(inference1, inference2)) {
      awaitVersion(c, prod, 1, System.nanoTime());
    }
    models.setModelAlias(
        SetModelAliasRequest.newBuilder()
            .setModelName("scaled")
            .setAlias("prod")
            .setVersion(2)
            .build());
    long moved = System.nanoTime();
    PredictResponse before = null;
    for (ManagedChannel c : List.of(inference1, inference2)) {
      double ms = awaitVersion(c, prod, 2, moved);
      measured.put("moved-" + measured.size(), "prod -> version 2 served after " + ms + " ms");
      PredictResponse r = predict(c, prod);
      if (before != null) {
        assertEquals(
            before.getPredictions(0).getClassesList(),
            r.getPredictions(0).getClassesList(),
            "both replicas give version 2's scores");
      }
      before = r;
    }
    assertEquals(
        before.getPredictions(0).getClassesList(),
        predict(inference1, latest).getPredictions(0).getClassesList());

    assertFalse(mapped(started.get(1).handle().pid(), "libtorch"), "inference never loaded it");
    assertFalse(mapped(started.get(2).handle().pid(), "libtorch"), "inference never loaded it");
    assertFalse(mapped(started.get(0).handle().pid(), "libtorch"), "the api trained nothing");

    // SIGTERM to an inference replica drains it: a stream open at that moment is still answered
    // and completes normally, a new call is refused with the retryable UNAVAILABLE, and the process
    // exits once the stream has ended.
    GraftProcess leaving = started.get(2);
    LinkedBlockingQueue<Object> got = new LinkedBlockingQueue<>();
    StreamObserver<PredictStreamRequest> stream =
        InferenceServiceGrpc.newStub(inference2)
            .withDeadlineAfter(2, TimeUnit.MINUTES)
            .predictStream(
                new StreamObserver<>() {
                  @Override
                  public void onNext(PredictStreamResponse r) {
                    got.add(r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    got.add(t);
                  }

                  @Override
                  public void onCompleted() {
                    got.add("completed");
                  }
                });
    stream.onNext(streamRequest("before", prod));
    assertTrue(got.poll(30, TimeUnit.SECONDS) instanceof PredictStreamResponse, got.toString());
    long sigterm = System.nanoTime();
    leaving.terminate();
    StatusRuntimeException refusedNew = null;
    while (refusedNew == null && System.nanoTime() - sigterm < 10_000_000_000L) {
      try {
        predict(inference2, prod);
        Thread.sleep(50); // the shutdown has not reached the drain yet
      } catch (StatusRuntimeException e) {
        refusedNew = e;
      }
    }
    assertNotNull(refusedNew, "a new call was still served 10 s after SIGTERM");
    assertEquals(Status.Code.UNAVAILABLE, refusedNew.getStatus().getCode(), refusedNew.toString());
    assertEquals(
        "this Graft replica is shutting down; retry the call (another replica serves it)",
        refusedNew.getStatus().getDescription());
    stream.onNext(streamRequest("during", prod));
    Object during = got.poll(30, TimeUnit.SECONDS);
    assertTrue(
        during instanceof PredictStreamResponse, "stream answered while draining: " + during);
    assertEquals(2, ((PredictStreamResponse) during).getResponse().getModelVersion());
    stream.onCompleted();
    assertEquals("completed", got.poll(30, TimeUnit.SECONDS));
    assertTrue(leaving.awaitExit(Duration.ofSeconds(30)), "the drained replica exits");
    measured.put(
        "drain",
        String.format(
            "inference-2 drained an open stream and exited %.1f s after SIGTERM",
            (System.nanoTime() - sigterm) / 1e9));
    assertEquals(2, predict(inference1, prod).getModelVersion(), "the other replica still serves");
    System.out.println("ScaleOutServingIT summary:");
    measured.values().forEach(v -> System.out.println("  " + v));
  }

  /** A run of another process, watched through the api: history, live progress, the end. */
  private static void assertWatchedLive(List<RunEvent> events, String what) {
    assertFalse(events.isEmpty(), what);
    RunEvent last = events.get(events.size() - 1);
    assertEquals(RunStatus.SUCCEEDED, last.getStatus().getStatus(), what + ": " + events);
    assertTrue(events.stream().anyMatch(RunEvent::hasProgress), what + " progress: " + events);
    assertTrue(events.stream().anyMatch(RunEvent::hasEpoch), what + " epochs: " + events);
    for (int i = 1; i < events.size(); i++) {
      assertTrue(
          events.get(i).getSequence() > events.get(i - 1).getSequence(),
          what + " sequences increase: " + events);
    }
    long statuses = events.stream().filter(RunEvent::hasStatus).count();
    long distinct =
        events.stream()
            .filter(RunEvent::hasStatus)
            .map(e -> e.getStatus().getStatus())
            .distinct()
            .count();
    assertEquals(distinct, statuses, what + ": no status twice: " + events);
    System.out.printf(
        "ScaleOutServingIT: %s watched through the api: %d events (%d progress), last %s%n",
        what,
        events.size(),
        events.stream().filter(RunEvent::hasProgress).count(),
        last.getStatus().getStatus());
  }

  /** Polls until the reference means that version; milliseconds since {@code since}. */
  private static double awaitVersion(ManagedChannel c, ModelRef ref, int version, long since)
      throws Exception {
    long deadline = since + PROPAGATION_BOUND.toNanos();
    while (true) {
      int served = predict(c, ref).getModelVersion();
      double ms = (System.nanoTime() - since) / 1e6;
      if (served == version) {
        System.out.printf(
            "ScaleOutServingIT: %s@%s served version %d after %.0f ms%n",
            ref.getName(), ref.getAlias(), version, ms);
        return Math.round(ms);
      }
      assertTrue(
          System.nanoTime() < deadline,
          ref + " still served version " + served + " after " + PROPAGATION_BOUND);
      Thread.sleep(10);
    }
  }

  private static PredictResponse predict(ManagedChannel c, ModelRef ref) throws IOException {
    return InferenceServiceGrpc.newBlockingStub(c)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .predict(
            PredictRequest.newBuilder()
                .setModel(ref)
                .addInputs(
                    Input.newBuilder()
                        .setImage(ByteString.copyFrom(ServingFixtures.png(new Random(3)))))
                .build());
  }

  private static PredictStreamRequest streamRequest(String id, ModelRef ref) throws IOException {
    return PredictStreamRequest.newBuilder()
        .setId(id)
        .setRequest(
            PredictRequest.newBuilder()
                .setModel(ref)
                .addInputs(
                    Input.newBuilder()
                        .setImage(ByteString.copyFrom(ServingFixtures.png(new Random(3))))))
        .build();
  }

  private static ServingStatus health(ManagedChannel c, String service) {
    return HealthGrpc.newBlockingStub(c)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().setService(service).build())
        .getStatus();
  }

  private static List<RunEvent> watchAll(ManagedChannel c, long runId) {
    List<RunEvent> out = new ArrayList<>();
    TrainingServiceGrpc.newBlockingStub(c)
        .withDeadlineAfter(5, TimeUnit.MINUTES)
        .watchRun(WatchRunRequest.newBuilder().setRunId(runId).build())
        .forEachRemaining(out::add);
    return out;
  }

  private interface Call {
    Object run() throws Exception;
  }

  private static StatusRuntimeException expectFailure(Call call) throws Exception {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e;
    }
    throw new AssertionError("the call succeeded");
  }

  /** Resident memory of a process (kB), from /proc/<pid>/status. */
  static long rssKb(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }

  /** Whether a shared library whose name contains {@code name} is mapped into the process. */
  static boolean mapped(long pid, String name) throws IOException {
    return Files.readAllLines(Path.of("/proc", String.valueOf(pid), "maps")).stream()
        .anyMatch(l -> l.contains(name));
  }
}
