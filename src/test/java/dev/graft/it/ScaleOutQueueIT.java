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
import dev.graft.api.v1.MetricValue;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The run queue across processes (issue 12): one PostgreSQL (started here), one shared artifact
 * directory, one {@code api} process that queues runs and two {@code trainer} processes that claim
 * them. Every one of 12 queued runs trains exactly once, spread over both trainers; a trainer
 * stopped with SIGTERM mid-run hands its run to the other at once; a trainer killed ({@code kill
 * -9}) mid-run loses it when its lease expires, and the other resumes it from its checkpoint.
 * Resumed runs end SUCCEEDED with every epoch recorded exactly once and attempts 2.
 */
class ScaleOutQueueIT {

  /** Short lease and beat, so that the kill case waits seconds; SIGTERM must beat the lease. */
  private static final Duration LEASE = Duration.ofSeconds(6);

  private static final List<String> TRAINER_ARGS =
      List.of(
          "-Xmx1g",
          "-Dgraft.training.lease-duration=" + LEASE.toSeconds() + "s",
          "-Dgraft.training.heartbeat-interval=1s",
          "-Dgraft.training.poll-interval=500ms",
          "-Dgraft.training.auto-resume-attempts=3");

  private static final int RUNS = 12;
  private static final int EPOCHS = 2;
  private static final int LONG_EPOCHS = 5;

  private final Path dir = Path.of("target", "it-scale-out-" + System.nanoTime());
  private final Path shared = dir.resolve("data");
  private final List<GraftProcess> started = new ArrayList<>();
  private EmbeddedPostgres postgres;
  private String jdbcUrl;
  private int trainerCount;

  @AfterEach
  void stopEverything() throws Exception {
    for (GraftProcess p : started) {
      p.close();
    }
    if (postgres != null) {
      postgres.close();
    }
  }

  private GraftProcess launch(String role, List<String> args) throws Exception {
    String name = role.equals("trainer") ? "trainer-" + (++trainerCount) : role;
    GraftProcess p =
        GraftProcess.external(shared, role, jdbcUrl, dir.resolve(name + ".log")).withArgs(args);
    started.add(p);
    p.launch();
    return p;
  }

  @Test
  void runsTrainOnceAcrossTrainersAndSurviveSigtermAndKill() throws Exception {
    Instant t0 = Instant.now();
    Files.createDirectories(shared);
    postgres =
        EmbeddedPostgres.builder()
            .setPort(GraftProcess.freePort())
            .setDataDirectory(dir.resolve("postgres"))
            .setCleanDataDirectory(true)
            .setServerConfig("fsync", "off")
            .setServerConfig("synchronous_commit", "off")
            .start();
    jdbcUrl = "jdbc:postgresql://localhost:" + postgres.getPort() + "/postgres";

    // The api process first: it migrates the schema; the trainers then start side by side.
    GraftProcess api = launch("api", List.of("-Xmx768m"));
    api.awaitHealthy(Duration.ofMinutes(3));
    List<GraftProcess> trainers = new ArrayList<>();
    trainers.add(launch("trainer", TRAINER_ARGS));
    trainers.add(launch("trainer", TRAINER_ARGS));
    for (GraftProcess t : trainers) {
      t.awaitHealthy(Duration.ofMinutes(3));
    }
    System.out.printf(
        "ScaleOutQueueIT: PostgreSQL, api and 2 trainers up in %.1f s%n", seconds(t0));

    var channel = api.channel();
    var training = TrainingServiceGrpc.newBlockingStub(channel);
    var datasets = DatasetServiceGrpc.newBlockingStub(channel);
    for (var d : Map.of("shapes", 40, "shapes-long", 150).entrySet()) {
      datasets.registerDataset(
          RegisterDatasetRequest.newBuilder()
              .setName(d.getKey())
              .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
              .setExamplesPerClass(d.getValue())
              .setSeed(4)
              .build());
    }
    long experiment =
        ExperimentServiceGrpc.newBlockingStub(channel)
            .createExperiment(CreateExperimentRequest.newBuilder().setName("scale-out").build())
            .getId();

    // A base model, pre-trained by a trainer (the pre-training run is queued like any other).
    Instant pretrainStart = Instant.now();
    Run pretraining =
        ModelServiceGrpc.newBlockingStub(channel)
            .pretrainBaseModel(
                PretrainBaseModelRequest.newBuilder()
                    .setName("scale-base")
                    .setArchitecture("cnn-small")
                    .setDataset("shapes")
                    .setExperimentId(experiment)
                    .setHyperParameters(HyperParameters.newBuilder().setEpochs(1).setBatchSize(32))
                    .setSeed(9)
                    .setDevice(Device.CPU)
                    .build());
    Run base = await(training, pretraining.getId(), r -> isFinal(r.getStatus()), 180);
    assertEquals(RunStatus.SUCCEEDED, base.getStatus(), base.getError());
    assertTrue(base.getOwner().startsWith("trainer@"), base.getOwner());
    System.out.printf(
        "ScaleOutQueueIT: base model pre-trained by %s in %.1f s%n",
        base.getOwner(), seconds(pretrainStart));

    // 12 runs at once: each trains exactly once, on one trainer or the other.
    Instant queueStart = Instant.now();
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < RUNS; i++) {
      ids.add(training.startRun(run(experiment, "run-" + i, "shapes", EPOCHS, 32, i)).getId());
    }
    Set<String> owners = new HashSet<>();
    for (long id : ids) {
      Run done = await(training, id, r -> isFinal(r.getStatus()), 300);
      assertEquals(RunStatus.SUCCEEDED, done.getStatus(), id + ": " + done.getError());
      assertEquals(1, done.getAttempts(), "run " + id + " trained once");
      assertEpochsOnce(done, EPOCHS);
      assertEquals(List.of("QUEUED", "RUNNING", "SUCCEEDED"), statuses(id), "run " + id);
      owners.add(done.getOwner());
    }
    System.out.printf(
        "ScaleOutQueueIT: %d runs of %d epochs SUCCEEDED once each in %.1f s, owners %s%n",
        RUNS, EPOCHS, seconds(queueStart), owners);
    assertEquals(
        trainers.stream().map(ScaleOutQueueIT::ownerSuffix).collect(Collectors.toSet()),
        owners.stream().map(o -> o.substring(o.lastIndexOf('/'))).collect(Collectors.toSet()),
        "both trainers trained runs");

    // SIGTERM to the trainer of a run: the other one resumes it at once, not after the lease.
    long term =
        training.startRun(run(experiment, "sigterm", "shapes-long", LONG_EPOCHS, 4, 7)).getId();
    Run mid = awaitMidRun(training, term);
    GraftProcess victim = ownerOf(trainers, mid);
    GraftProcess survivor = trainers.get(trainers.indexOf(victim) == 0 ? 1 : 0);
    String survivorSuffix = ownerSuffix(survivor);
    Instant termAt = Instant.now();
    victim.terminate();
    Run resumed =
        await(
            training,
            term,
            r -> r.getStatus() == RunStatus.RUNNING && r.getOwner().endsWith(survivorSuffix),
            120);
    double handOver = seconds(termAt);
    assertTrue(victim.awaitExit(Duration.ofSeconds(60)), "the trainer exited after SIGTERM");
    System.out.printf(
        "ScaleOutQueueIT: SIGTERM in epoch %d: resumed by the other trainer after %.2f s (lease"
            + " %d s), attempt %d; the stopped trainer exited after %.1f s%n",
        lastEpoch(mid) + 1, handOver, LEASE.toSeconds(), resumed.getAttempts(), seconds(termAt));
    assertTrue(
        handOver < LEASE.toSeconds() - 1,
        "resumed after " + handOver + " s: it waited for the lease instead of being released");
    Run termDone = await(training, term, r -> isFinal(r.getStatus()), 300);
    assertEquals(RunStatus.SUCCEEDED, termDone.getStatus(), termDone.getError());
    assertEquals(2, termDone.getAttempts());
    assertEpochsOnce(termDone, LONG_EPOCHS);
    List<String> termStatuses = statuses(term);
    assertEquals(
        List.of("QUEUED", "RUNNING", "INTERRUPTED", "QUEUED", "RUNNING", "SUCCEEDED"),
        termStatuses);
    assertTrue(messages(term).contains("stopped (SIGTERM)"), messages(term));

    // Back to two trainers, then kill -9 the trainer of a run: the other one resumes it once the
    // lease expired.
    trainers.remove(victim);
    GraftProcess replacement = launch("trainer", TRAINER_ARGS);
    replacement.awaitHealthy(Duration.ofMinutes(3));
    trainers.add(replacement);
    long killed =
        training.startRun(run(experiment, "kill-9", "shapes-long", LONG_EPOCHS, 4, 8)).getId();
    mid = awaitMidRun(training, killed);
    victim = ownerOf(trainers, mid);
    survivor = trainers.get(trainers.indexOf(victim) == 0 ? 1 : 0);
    String lostOwner = mid.getOwner();
    Instant killAt = Instant.now();
    victim.kill();
    GraftProcess other = survivor;
    resumed =
        await(
            training,
            killed,
            r -> r.getStatus() == RunStatus.RUNNING && r.getOwner().endsWith(ownerSuffix(other)),
            120);
    double takeOver = seconds(killAt);
    System.out.printf(
        "ScaleOutQueueIT: kill -9 in epoch %d: resumed by the other trainer after %.2f s (lease"
            + " %d s), attempt %d%n",
        lastEpoch(mid) + 1, takeOver, LEASE.toSeconds(), resumed.getAttempts());
    assertTrue(
        takeOver >= LEASE.toSeconds() - 1.5, "resumed after " + takeOver + " s, before the lease");
    Run killDone = await(training, killed, r -> isFinal(r.getStatus()), 300);
    assertEquals(RunStatus.SUCCEEDED, killDone.getStatus(), killDone.getError());
    assertEquals(2, killDone.getAttempts());
    assertEpochsOnce(killDone, LONG_EPOCHS);
    assertEquals(
        List.of("QUEUED", "RUNNING", "INTERRUPTED", "QUEUED", "RUNNING", "SUCCEEDED"),
        statuses(killed));
    assertTrue(
        messages(killed).contains("trainer " + lostOwner + " stopped renewing its lease at "),
        messages(killed));
    System.out.printf("ScaleOutQueueIT: %.1f s in all%n", seconds(t0));
  }

  private static StartRunRequest run(
      long experiment, String name, String dataset, int epochs, int batch, long seed) {
    return StartRunRequest.newBuilder()
        .setExperimentId(experiment)
        .setName(name)
        .setBaseModel("scale-base")
        .setDataset(dataset)
        .setStrategy(Strategy.FINE_TUNING)
        .setHyperParameters(
            HyperParameters.newBuilder()
                .setEpochs(epochs)
                .setBatchSize(batch)
                .setLearningRate(0.003))
        .setSplit(SplitSpec.newBuilder().setValidationFraction(0.1).setTestFraction(0.1))
        .setSeed(seed)
        .setDevice(Device.CPU)
        .build();
  }

  /** Polls GetRun on the api process until {@code until} holds. */
  private static Run await(
      TrainingServiceGrpc.TrainingServiceBlockingStub training,
      long id,
      Predicate<Run> until,
      int timeoutSeconds)
      throws InterruptedException {
    Instant deadline = Instant.now().plusSeconds(timeoutSeconds);
    while (true) {
      Run r = training.getRun(GetRunRequest.newBuilder().setRunId(id).build());
      if (until.test(r)) {
        return r;
      }
      if (Instant.now().isAfter(deadline)) {
        throw new AssertionError("run " + id + " did not get there in time: " + r);
      }
      Thread.sleep(50);
    }
  }

  /** RUNNING with its first epoch recorded (and checkpointed), before its last. */
  private static Run awaitMidRun(TrainingServiceGrpc.TrainingServiceBlockingStub training, long id)
      throws InterruptedException {
    Run r =
        await(
            training,
            id,
            x ->
                isFinal(x.getStatus()) || (x.getStatus() == RunStatus.RUNNING && lastEpoch(x) >= 1),
            180);
    assertEquals(RunStatus.RUNNING, r.getStatus(), "the run ended before the stop: " + r);
    assertTrue(lastEpoch(r) < LONG_EPOCHS, r.toString());
    return r;
  }

  private static int lastEpoch(Run r) {
    return r.getMetricsList().stream().mapToInt(MetricValue::getEpoch).max().orElse(0);
  }

  /** Every metric once per epoch, epochs 1..n. */
  private static void assertEpochsOnce(Run r, int n) {
    Map<String, List<Integer>> byKey = new TreeMap<>();
    for (MetricValue m : r.getMetricsList()) {
      byKey.computeIfAbsent(m.getKey(), k -> new ArrayList<>()).add(m.getEpoch());
    }
    List<Integer> expected = IntStream.rangeClosed(1, n).boxed().toList();
    assertEquals(expected, byKey.get("train_loss"), "run " + r.getId() + " train_loss epochs");
    for (var e : byKey.entrySet()) {
      assertEquals(
          e.getValue().size(),
          new HashSet<>(e.getValue()).size(),
          "run " + r.getId() + ": " + e.getKey() + " recorded twice for an epoch: " + e.getValue());
    }
  }

  private static String ownerSuffix(GraftProcess p) {
    return "/" + p.handle().pid();
  }

  private static GraftProcess ownerOf(List<GraftProcess> trainers, Run r) {
    return trainers.stream()
        .filter(t -> r.getOwner().endsWith(ownerSuffix(t)))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no trainer owns " + r.getOwner()));
  }

  private List<String> statuses(long id) throws Exception {
    return changes(id).stream().map(c -> c[0]).toList();
  }

  private String messages(long id) throws Exception {
    return changes(id).stream().map(c -> c[0] + ": " + c[1]).collect(Collectors.joining("; "));
  }

  /** The run's status changes as the database recorded them: status, message. */
  private List<String[]> changes(long id) throws Exception {
    try (Connection c = postgres.getPostgresDatabase().getConnection();
        PreparedStatement s =
            c.prepareStatement(
                "SELECT status, message FROM run_status_change WHERE run_id = ? ORDER BY id")) {
      s.setLong(1, id);
      List<String[]> out = new ArrayList<>();
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          out.add(new String[] {rs.getString(1), rs.getString(2)});
        }
      }
      return out;
    }
  }

  private static boolean isFinal(RunStatus s) {
    return s != RunStatus.QUEUED && s != RunStatus.RUNNING;
  }

  private static double seconds(Instant since) {
    return Duration.between(since, Instant.now()).toMillis() / 1000.0;
  }
}
