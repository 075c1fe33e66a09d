package dev.graft.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.ResumeRunRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import io.grpc.ManagedChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The acceptance of resume: the packaged service is killed ({@code kill -9}) in the middle
 * of a fine-tuning run, started again on the same data directory, finds the run INTERRUPTED,
 * resumes it from its last checkpoint, and ends with the per-epoch metrics of an uninterrupted run
 * of the same configuration.
 */
class KillAndResumeIT {

  private static final int EPOCHS = 5;
  private static final int KILL_IN_EPOCH = 3;

  /** Largest difference of any per-epoch metric between the resumed and the uninterrupted run. */
  private static final double TOLERANCE = 1e-4;

  private final Path dataDir = Path.of("target", "it-kill-resume-" + System.nanoTime());
  private final int databasePort = GraftProcess.freePort();
  private final int httpPort = GraftProcess.freePort();
  private final List<GraftProcess> started = new ArrayList<>();

  private GraftProcess launch() throws Exception {
    Files.createDirectories(dataDir);
    GraftProcess p =
        new GraftProcess(dataDir, databasePort, httpPort, dataDir.resolve("service.log"));
    started.add(p);
    return p;
  }

  @AfterEach
  void stopEverything() throws InterruptedException {
    for (GraftProcess p : started) {
      p.close();
    }
    // A server the last service did not stop (it was killed): end it, it is ours.
    if (!started.isEmpty()) {
      started.get(0).postmaster().ifPresent(ProcessHandle::destroy);
    }
  }

  @Test
  void killedMidRunResumesToTheMetricsOfAnUninterruptedRun() throws Exception {
    GraftProcess first = launch();
    ManagedChannel channel = first.start(Duration.ofMinutes(3));
    DatasetServiceGrpc.newBlockingStub(channel)
        .registerDataset(
            RegisterDatasetRequest.newBuilder()
                .setName("shapes")
                .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                .setExamplesPerClass(60)
                .setSeed(4)
                .build());
    long experiment =
        ExperimentServiceGrpc.newBlockingStub(channel)
            .createExperiment(CreateExperimentRequest.newBuilder().setName("kill-resume").build())
            .getId();
    pretrainBaseModel(channel, experiment);
    StartRunRequest request =
        StartRunRequest.newBuilder()
            .setExperimentId(experiment)
            .setBaseModel("it-base")
            .setDataset("shapes")
            .setStrategy(Strategy.FINE_TUNING)
            .setHyperParameters(
                HyperParameters.newBuilder()
                    .setEpochs(EPOCHS)
                    .setBatchSize(16)
                    .setLearningRate(0.003))
            .setSplit(SplitSpec.newBuilder().setValidationFraction(0.1).setTestFraction(0.1))
            .setSeed(17)
            .setDevice(Device.CPU)
            .build();
    var training = TrainingServiceGrpc.newBlockingStub(channel);
    long runId = training.startRun(request).getId();

    // Kill in the middle of an epoch, once earlier epochs are checkpointed.
    Iterator<RunEvent> events =
        training
            .withDeadlineAfter(3, TimeUnit.MINUTES)
            .watchRun(WatchRunRequest.newBuilder().setRunId(runId).build());
    RunEvent e;
    do {
      e = events.next();
      assertTrue(
          !e.hasStatus() || !isFinal(e.getStatus().getStatus()),
          "the run ended before the kill: " + e);
    } while (!(e.hasProgress()
        && e.getProgress().getEpoch() >= KILL_IN_EPOCH
        && e.getProgress().getBatchesDone() < e.getProgress().getBatchesTotal()));
    first.kill();
    Path state =
        dataDir.resolve("runs").resolve(String.valueOf(runId)).resolve("checkpoint/state.json");
    assertTrue(Files.isRegularFile(state), "a checkpoint exists");
    System.out.printf(
        "KillAndResumeIT: killed the service in epoch %d (batch %d/%d), checkpoint %s;"
            + " embedded PostgreSQL %s%n",
        e.getProgress().getEpoch(),
        e.getProgress().getBatchesDone(),
        e.getProgress().getBatchesTotal(),
        Files.readString(state),
        first.postmaster().isPresent() ? "survived the kill" : "stopped with it");

    GraftProcess second = launch();
    channel = second.start(Duration.ofMinutes(3));
    training = TrainingServiceGrpc.newBlockingStub(channel);
    Run interrupted = training.getRun(GetRunRequest.newBuilder().setRunId(runId).build());
    assertEquals(RunStatus.INTERRUPTED, interrupted.getStatus(), interrupted.toString());
    // A watcher of the restarted service gets the run's history, and the stream ends.
    List<RunEvent> history = watchAll(training, runId);
    assertEquals(RunStatus.QUEUED, history.get(0).getStatus().getStatus());
    assertTrue(
        history.stream().filter(RunEvent::hasEpoch).count() >= KILL_IN_EPOCH - 1,
        history.toString());
    assertEquals(RunStatus.INTERRUPTED, history.get(history.size() - 1).getStatus().getStatus());
    // Every status it went through, not only the first and the last.
    assertEquals(
        List.of(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.INTERRUPTED),
        history.stream().filter(RunEvent::hasStatus).map(h -> h.getStatus().getStatus()).toList(),
        history.toString());

    Run resumed = training.resumeRun(ResumeRunRequest.newBuilder().setRunId(runId).build());
    assertEquals(RunStatus.QUEUED, resumed.getStatus());
    List<RunEvent> after = watchAll(training, runId);
    assertEquals(
        RunStatus.SUCCEEDED, after.get(after.size() - 1).getStatus().getStatus(), after.toString());
    Run done = training.getRun(GetRunRequest.newBuilder().setRunId(runId).build());
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());

    long reference =
        training.startRun(request.toBuilder().setName("uninterrupted").build()).getId();
    List<RunEvent> referenceEvents = watchAll(training, reference);
    assertEquals(
        RunStatus.SUCCEEDED,
        referenceEvents.get(referenceEvents.size() - 1).getStatus().getStatus(),
        referenceEvents.toString());
    Run uninterrupted = training.getRun(GetRunRequest.newBuilder().setRunId(reference).build());

    assertEquals(uninterrupted.getSplitHash(), done.getSplitHash(), "the same split");
    Map<Integer, Map<String, Double>> a = untimed(done);
    Map<Integer, Map<String, Double>> b = untimed(uninterrupted);
    assertEquals(b.keySet(), a.keySet(), "the same epochs");
    double worst = 0;
    for (int epoch : b.keySet()) {
      for (Map.Entry<String, Double> m : b.get(epoch).entrySet()) {
        double diff = Math.abs(m.getValue() - a.get(epoch).get(m.getKey()));
        worst = Math.max(worst, diff);
        System.out.printf(
            "KillAndResumeIT: epoch %d %-14s resumed=%.9f uninterrupted=%.9f diff=%.3g%n",
            epoch, m.getKey(), a.get(epoch).get(m.getKey()), m.getValue(), diff);
      }
    }
    double testDiff =
        Math.abs(
            done.getTestMetricsOrThrow("test_accuracy")
                - uninterrupted.getTestMetricsOrThrow("test_accuracy"));
    System.out.printf(
        "KillAndResumeIT: largest per-epoch metric difference %.3g; test accuracy resumed=%.4f"
            + " uninterrupted=%.4f%n",
        worst,
        done.getTestMetricsOrThrow("test_accuracy"),
        uninterrupted.getTestMetricsOrThrow("test_accuracy"));
    assertTrue(worst <= TOLERANCE, "metrics differ by up to " + worst);
    assertTrue(testDiff <= TOLERANCE, "test accuracy differs by " + testDiff);
  }

  /** A small base model, pre-trained through ModelService.PretrainBaseModel (one epoch). */
  private static void pretrainBaseModel(ManagedChannel channel, long experiment) {
    Run pretraining =
        ModelServiceGrpc.newBlockingStub(channel)
            .pretrainBaseModel(
                PretrainBaseModelRequest.newBuilder()
                    .setName("it-base")
                    .setArchitecture("cnn-small")
                    .setDataset("shapes")
                    .setExperimentId(experiment)
                    .setHyperParameters(HyperParameters.newBuilder().setEpochs(1).setBatchSize(32))
                    .setSeed(9)
                    .setDevice(Device.CPU)
                    .build());
    List<RunEvent> events =
        watchAll(TrainingServiceGrpc.newBlockingStub(channel), pretraining.getId());
    RunEvent last = events.get(events.size() - 1);
    assertEquals(RunStatus.SUCCEEDED, last.getStatus().getStatus(), last.toString());
  }

  private static List<RunEvent> watchAll(
      TrainingServiceGrpc.TrainingServiceBlockingStub training, long runId) {
    List<RunEvent> out = new ArrayList<>();
    training
        .withDeadlineAfter(4, TimeUnit.MINUTES)
        .watchRun(WatchRunRequest.newBuilder().setRunId(runId).build())
        .forEachRemaining(out::add);
    return out;
  }

  private static Map<Integer, Map<String, Double>> untimed(Run run) {
    Map<Integer, Map<String, Double>> out = new TreeMap<>();
    run.getMetricsList().stream()
        .filter(m -> !m.getKey().equals("epoch_seconds"))
        .filter(m -> !m.getKey().equals("examples_per_second"))
        .forEach(
            m ->
                out.computeIfAbsent(m.getEpoch(), k -> new LinkedHashMap<>())
                    .put(m.getKey(), m.getValue()));
    return out;
  }

  private static boolean isFinal(RunStatus s) {
    return s != RunStatus.QUEUED && s != RunStatus.RUNNING;
  }
}
