package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.CancelRunRequest;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.experiments.RunStatus;
import dev.graft.support.GraftTest;
import io.grpc.Status;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The run queue as several trainers use it, against the embedded PostgreSQL: claims with {@code FOR
 * UPDATE SKIP LOCKED} from two threads with their own transactions (two trainers), lease renewal,
 * expiry to INTERRUPTED and automatic resume up to max_attempts, cancel through the database flag,
 * and a job whose lease another trainer took over stopping without writing. Claims by "other
 * trainers" are made through RunStore with owners of their own; the service's own queue loop (role
 * all) claims only runs queued through it, so it leaves these alone.
 */
@QuarkusTest
class RunQueueTest extends GraftTest {

  private static final List<String> CPU = List.of("CPU", "AUTO");

  @Inject RunStore store;
  @Inject RunScheduler scheduler;
  @Inject TrainingJob job;
  @Inject DataSource dataSource;

  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;
  private final List<Long> created = new ArrayList<>();

  @BeforeEach
  void setUp() {
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.targetData(channel);
    experiment = TrainingFixtures.experiment(channel, "queue");
  }

  @AfterEach
  void endLeftovers() {
    for (long id : created) {
      store.forget(id);
      if (!store.status(id).isFinal()) {
        store.finish(id, RunStatus.CANCELLED, "test cleanup");
      }
    }
  }

  /** A QUEUED row no trainer of this process looks at. */
  private long queue(int maxAttempts) {
    RunSpec spec =
        new RunSpec(
                experiment,
                "queued",
                TrainingFixtures.BASE,
                "",
                TrainingFixtures.TARGET,
                Strategy.FINE_TUNING,
                0,
                List.of(),
                new RunSpec.Head(List.of(16), "relu", 0.5f),
                new RunSpec.Hyper(
                    "", 0, 0, 0, 0, "CONSTANT", 0, 0, 0, 16, 2, 0, null, false, false, false),
                new RunSpec.Split(0.2, 0.2, 0),
                3,
                "CPU",
                "")
            .withDefaults()
            .validate();
    long id =
        store.createQueued(
            spec,
            null,
            store.dataset(TrainingFixtures.TARGET).id,
            null,
            job.versions(),
            maxAttempts);
    created.add(id);
    return id;
  }

  private Optional<RunStore.Claim> claim(String owner, long id, Duration lease) {
    return store.claimNext(owner, lease, CPU, List.of(), List.of(id));
  }

  @Test
  void aRunBecomingQueuedNotifiesTheTrainersWhicheverProcessQueuedIt() throws Exception {
    try (Connection listening = dataSource.getConnection()) {
      listening.setAutoCommit(true);
      try (var s = listening.createStatement()) {
        s.execute("LISTEN graft_run_queue");
      }
      org.postgresql.PGConnection pg = listening.unwrap(org.postgresql.PGConnection.class);

      long id = queue(1);
      assertEquals(List.of(String.valueOf(id)), notifications(pg), "queued by StartRun's insert");

      try (Connection c = dataSource.getConnection();
          PreparedStatement s = c.prepareStatement("UPDATE run SET status = ? WHERE id = ?")) {
        s.setLong(2, id);
        s.setString(1, "INTERRUPTED");
        s.executeUpdate();
        assertEquals(List.of(), notifications(pg), "no notification for other statuses");
        s.setString(1, "QUEUED");
        s.executeUpdate();
      }
      assertEquals(List.of(String.valueOf(id)), notifications(pg), "queued again (a resume)");
    }
  }

  /** The graft_run_queue payloads that arrive within a second. */
  private static List<String> notifications(org.postgresql.PGConnection pg) throws SQLException {
    List<String> out = new ArrayList<>();
    long deadline = System.nanoTime() + 1_000_000_000L;
    while (System.nanoTime() < deadline) {
      org.postgresql.PGNotification[] got = pg.getNotifications(100);
      if (got != null) {
        for (org.postgresql.PGNotification n : got) {
          out.add(n.getParameter());
        }
      }
    }
    return out;
  }

  @Test
  void twoTrainersClaimingOneRunAtOnceExactlyOneWins() throws Exception {
    ExecutorService two = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 15; round++) {
        long id = queue(3);
        CyclicBarrier together = new CyclicBarrier(2);
        List<CompletableFuture<Optional<RunStore.Claim>>> claims = new ArrayList<>();
        for (String owner : List.of("trainer-a", "trainer-b")) {
          claims.add(
              CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      together.await(10, TimeUnit.SECONDS);
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    }
                    return claim(owner, id, Duration.ofSeconds(30));
                  },
                  two));
        }
        List<RunStore.Claim> won = new ArrayList<>();
        for (var c : claims) {
          c.get(30, TimeUnit.SECONDS).ifPresent(won::add);
        }
        assertEquals(1, won.size(), "round " + round + ": " + won);
        RunView v = store.view(id);
        assertEquals(RunStatus.RUNNING, v.status());
        assertEquals(won.get(0).lease().owner(), v.owner());
        assertEquals(1, v.attempts());
        assertEquals(1, won.get(0).lease().attempt());
        assertTrue(v.leaseExpiresAt().isAfter(Instant.now().plusSeconds(20)), v.toString());
        // Nothing else to claim: a third trainer finds none.
        assertTrue(claim("trainer-c", id, Duration.ofSeconds(30)).isEmpty());
      }
    } finally {
      two.shutdownNow();
    }
  }

  @Test
  void theOwnersHeartbeatExtendsTheLeaseAndReadsCancelRequests() throws Exception {
    long id = queue(3);
    RunStore.Lease lease = claim("trainer-a", id, Duration.ofSeconds(2)).orElseThrow().lease();
    Instant first = store.view(id).leaseExpiresAt();
    Thread.sleep(20);
    assertEquals(RunStore.Renewal.RENEWED, store.renew(id, lease, Duration.ofSeconds(30)));
    Instant renewed = store.view(id).leaseExpiresAt();
    assertTrue(renewed.isAfter(first.plusSeconds(20)), first + " -> " + renewed);
    // Another trainer's lease, or an older claim of the same owner, renews nothing.
    assertEquals(
        RunStore.Renewal.LOST,
        store.renew(id, new RunStore.Lease("trainer-b", 1), Duration.ofSeconds(30)));
    assertEquals(
        RunStore.Renewal.LOST,
        store.renew(id, new RunStore.Lease("trainer-a", 0), Duration.ofSeconds(30)));
    assertEquals(renewed, store.view(id).leaseExpiresAt());

    // CancelRun on a replica that does not train it: the flag, and the run goes on (its owner is
    // alive) until the owner's heartbeat reads it.
    Run answer = training.cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
    assertEquals(dev.graft.api.v1.RunStatus.RUNNING, answer.getStatus());
    assertEquals("trainer-a", answer.getOwner());
    assertEquals(1, answer.getAttempts());
    assertTrue(answer.hasLeaseExpireTime());
    assertEquals(RunStore.Renewal.CANCEL_REQUESTED, store.renew(id, lease, Duration.ofSeconds(30)));
  }

  @Test
  void anExpiredLeaseInterruptsTheRunAndResumesItUntilMaxAttempts() throws Exception {
    long id = queue(2);
    claim("trainer-gone", id, Duration.ofMillis(1)).orElseThrow();
    store.forget(id); // the claim of another process: this one holds no lease on it
    Thread.sleep(50);

    List<RunStore.Expired> swept = scheduler.sweep(List.of(id));
    assertEquals(1, swept.size(), swept.toString());
    assertEquals(RunStatus.INTERRUPTED, swept.get(0).endedAs());
    assertTrue(
        swept.get(0).message().startsWith("trainer trainer-gone stopped renewing its lease at "),
        swept.get(0).message());
    RunView requeued = store.view(id);
    assertEquals(RunStatus.QUEUED, requeued.status(), "attempt 1 of 2: resumed");
    assertEquals("", requeued.owner());
    assertNull(requeued.leaseExpiresAt());
    assertEquals(1, requeued.attempts());
    List<RunStore.StatusChange> changes = store.statusChanges(id);
    assertEquals(
        List.of(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.INTERRUPTED, RunStatus.QUEUED),
        changes.stream().map(RunStore.StatusChange::status).toList());
    assertTrue(changes.get(2).message().contains("trainer-gone"), changes.toString());
    // A sweep again finds nothing: the run is queued, not running.
    assertTrue(scheduler.sweep(List.of(id)).isEmpty());

    // The second attempt's trainer dies as well: 2 of 2 attempts used, it stays INTERRUPTED.
    assertEquals(2, claim("trainer-b", id, Duration.ofMillis(1)).orElseThrow().lease().attempt());
    store.forget(id);
    Thread.sleep(50);
    assertEquals(1, scheduler.sweep(List.of(id)).size());
    RunView interrupted = store.view(id);
    assertEquals(RunStatus.INTERRUPTED, interrupted.status());
    assertEquals(2, interrupted.attempts());
    assertTrue(interrupted.error().contains("trainer trainer-b stopped renewing"));
  }

  @Test
  void cancellingARunWhoseLeaseExpiredEndsItOnTheReplicaThatGotTheCall() throws Exception {
    long id = queue(3);
    claim("trainer-gone", id, Duration.ofMillis(1)).orElseThrow();
    store.forget(id);
    Thread.sleep(50);
    Run answer = training.cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
    assertEquals(dev.graft.api.v1.RunStatus.CANCELLED, answer.getStatus());
    assertEquals("cancelled by CancelRun", answer.getError());
    assertEquals("trainer-gone", answer.getOwner(), "who trained it last");
    assertFalse(answer.hasLeaseExpireTime());
  }

  @Test
  void maxAttemptsIsCheckedAndStoredPerRun() throws Exception {
    GraftTest.assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "max_attempts -1 is negative",
        () ->
            training.startRun(
                TrainingFixtures.small(experiment, dev.graft.api.v1.Strategy.FINE_TUNING)
                    .setMaxAttempts(-1)
                    .build()));
    TrainingFixtures.baseModel(channel);
    long id =
        training
            .startRun(
                TrainingFixtures.small(experiment, dev.graft.api.v1.Strategy.FINE_TUNING)
                    .setMaxAttempts(0)
                    .build())
            .getId();
    created.add(id);
    assertEquals(3, store.view(id).maxAttempts(), "0 is graft.training.auto-resume-attempts");
    training.cancelRun(CancelRunRequest.newBuilder().setRunId(id).build());
    TrainingFixtures.awaitEnd(channel, id, Duration.ofMinutes(1));
  }

  /** A run of many small batches, started through gRPC and trained by this process. */
  private long startLongRun(int maxAttempts) throws InterruptedException {
    TrainingFixtures.baseModel(channel);
    TrainingFixtures.largeData(channel);
    StartRunRequest request =
        TrainingFixtures.small(experiment, dev.graft.api.v1.Strategy.FINE_TUNING)
            .setDataset(TrainingFixtures.LARGE)
            .setHyperParameters(HyperParameters.newBuilder().setEpochs(20).setBatchSize(4))
            .setMaxAttempts(maxAttempts)
            .build();
    long id = training.startRun(request).getId();
    created.add(id);
    return id;
  }

  /** Waits for an event matching {@code until}. */
  private Iterator<RunEvent> awaitEvent(long id, java.util.function.Predicate<RunEvent> until) {
    Iterator<RunEvent> events =
        training
            .withDeadlineAfter(3, TimeUnit.MINUTES)
            .watchRun(WatchRunRequest.newBuilder().setRunId(id).build());
    RunEvent e;
    do {
      e = events.next();
    } while (!until.test(e));
    return events;
  }

  @Test
  void aCancelRequestFromAnotherReplicaStopsTheJobAtItsNextHeartbeat() throws Exception {
    long id = startLongRun(5);
    Iterator<RunEvent> events = awaitEvent(id, RunEvent::hasProgress);
    Run running = training.getRun(GetRunRequest.newBuilder().setRunId(id).build());
    assertEquals(scheduler.ownerName(), running.getOwner());
    assertEquals(1, running.getAttempts());
    assertTrue(running.hasLeaseExpireTime());
    assertEquals(5, store.view(id).maxAttempts());

    long asked = System.nanoTime();
    assertFalse(store.requestCancel(id, "cancelled by CancelRun"), "its lease is live");
    RunEvent last = null;
    while (events.hasNext()) {
      last = events.next();
    }
    double seconds = (System.nanoTime() - asked) / 1e9;
    assertNotNull(last);
    assertEquals(dev.graft.api.v1.RunStatus.CANCELLED, last.getStatus().getStatus(), "" + last);
    System.out.printf("RunQueueTest: cancel through the flag took %.3f s%n", seconds);
    assertTrue(seconds < 5, "took " + seconds + " s");
    RunView v = store.view(id);
    assertEquals(RunStatus.CANCELLED, v.status());
    assertEquals(scheduler.ownerName(), v.owner());
    assertNull(v.leaseExpiresAt());
  }

  @Test
  void aJobWhoseLeaseAnotherTrainerTookOverStopsWithoutWriting() throws Exception {
    long id = startLongRun(3);
    awaitEvent(id, e -> e.hasEpoch() && e.getEpoch().getEpoch() >= 1);
    // Another trainer takes the run over (as after an expiry and a resume elsewhere).
    execute("UPDATE run SET owner = 'trainer-thief', attempts = attempts + 1 WHERE id = ?", id);
    int metricsAtTakeover = store.view(id).metrics().size();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (scheduler.trainsHere(id) && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertFalse(scheduler.trainsHere(id), "the job stopped");
    Thread.sleep(500);
    RunView v = store.view(id);
    assertEquals(RunStatus.RUNNING, v.status(), "the new owner's run: not ended by the old one");
    assertEquals("trainer-thief", v.owner());
    assertEquals(2, v.attempts());
    assertEquals("", v.error());
    assertEquals("", v.modelVersion());
    assertEquals(metricsAtTakeover, v.metrics().size(), "no epoch recorded after the takeover");
  }

  private void execute(String sql, long id) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement s = c.prepareStatement(sql)) {
      s.setLong(1, id);
      s.executeUpdate();
    }
  }
}
