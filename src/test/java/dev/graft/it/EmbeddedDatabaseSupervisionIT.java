package dev.graft.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.GetExperimentRequest;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The embedded PostgreSQL is supervised, through the packaged service: kill -9 of the postmaster
 * and the service is SERVING again by itself within {@link #RECOVERY_BOUND} with nothing lost; kill
 * -9 of the JVM takes its postmaster with it, and a restart on another port starts at the first
 * try. The server also runs durable (fsync, synchronous commit) by default.
 */
class EmbeddedDatabaseSupervisionIT {

  private static final Logger LOG = Logger.getLogger(EmbeddedDatabaseSupervisionIT.class);
  static final Duration RECOVERY_BOUND = Duration.ofSeconds(30);

  private final Path dataDir = Path.of("target", "it-supervision-" + System.nanoTime());
  private final List<GraftProcess> started = new ArrayList<>();

  private GraftProcess launch(int databasePort) throws Exception {
    Files.createDirectories(dataDir);
    GraftProcess p =
        new GraftProcess(
            dataDir, databasePort, GraftProcess.freePort(), dataDir.resolve("service.log"));
    started.add(p);
    return p;
  }

  @AfterEach
  void stopEverything() throws InterruptedException {
    for (GraftProcess p : started) {
      p.close();
    }
    if (!started.isEmpty()) {
      started.get(0).postmaster().ifPresent(ProcessHandle::destroy);
    }
  }

  private static long experiment(ManagedChannel channel, String name) {
    return ExperimentServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .createExperiment(CreateExperimentRequest.newBuilder().setName(name).build())
        .getId();
  }

  private static String experimentName(ManagedChannel channel, long id) {
    return ExperimentServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .getExperiment(GetExperimentRequest.newBuilder().setId(id).build())
        .getName();
  }

  private static ServingStatus health(ManagedChannel channel) {
    try {
      return HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance())
          .getStatus();
    } catch (StatusRuntimeException e) {
      return ServingStatus.UNKNOWN;
    }
  }

  private static int httpStatus(int port, String path) throws Exception {
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    return r.statusCode();
  }

  private static String show(int port, String setting) throws Exception {
    try (Connection c =
            DriverManager.getConnection(
                "jdbc:postgresql://localhost:" + port + "/postgres?user=postgres");
        ResultSet r = c.createStatement().executeQuery("SHOW " + setting)) {
      r.next();
      return r.getString(1);
    }
  }

  @Test
  void aKilledPostmasterIsRestartedAndTheServiceServesAgainWithNothingLost() throws Exception {
    GraftProcess service = launch(GraftProcess.freePort());
    ManagedChannel channel = service.start(Duration.ofMinutes(3));
    assertEquals("on", show(service.databasePort(), "fsync"));
    assertEquals("on", show(service.databasePort(), "synchronous_commit"));
    long before = experiment(channel, "before-the-kill");

    ProcessHandle postmaster = service.postmaster().orElseThrow();
    assertEquals(
        Optional.of(service.handle().pid()),
        postmaster.parent().map(ProcessHandle::pid),
        "the postmaster is a child of the service's JVM");
    long killedAt = System.nanoTime();
    postmaster.destroyForcibly();
    postmaster.onExit().get(10, TimeUnit.SECONDS);

    long deadline = killedAt + 2 * RECOVERY_BOUND.toNanos();
    while (health(channel) != ServingStatus.SERVING && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    double seconds = (System.nanoTime() - killedAt) / 1e9;
    LOG.infof("SERVING again %.2f s after kill -9 of the postmaster", seconds);
    System.out.printf(
        "SUPERVISION: SERVING again %.2f s after kill -9 of the postmaster%n", seconds);
    assertTrue(
        seconds < RECOVERY_BOUND.toSeconds(),
        "SERVING again after " + seconds + " s\n" + service.logTail());

    ProcessHandle restarted = service.postmaster().orElseThrow();
    assertNotEquals(postmaster.pid(), restarted.pid());
    assertEquals(Optional.of(service.handle().pid()), restarted.parent().map(ProcessHandle::pid));
    assertEquals("before-the-kill", experimentName(channel, before), "nothing was lost");
    long after = experiment(channel, "after-the-kill");
    assertEquals("after-the-kill", experimentName(channel, after));
    assertEquals(200, httpStatus(service.httpPort(), "/q/health/live"));
    assertEquals(200, httpStatus(service.httpPort(), "/q/health/ready"));

    // A server that cannot be restarted (its data directory made unreadable) makes liveness
    // honest: DOWN once restarts keep failing, UP again when one succeeds.
    Path pgData = dataDir.resolve("postgres");
    Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(pgData);
    Files.setPosixFilePermissions(pgData, Set.of());
    try {
      restarted.destroyForcibly();
      restarted.onExit().get(10, TimeUnit.SECONDS);
      long downDeadline = System.nanoTime() + RECOVERY_BOUND.toNanos();
      while (httpStatus(service.httpPort(), "/q/health/live") == 200
          && System.nanoTime() < downDeadline) {
        Thread.sleep(100);
      }
      assertEquals(503, httpStatus(service.httpPort(), "/q/health/live"), service.logTail());
      assertEquals(ServingStatus.NOT_SERVING, health(channel));
    } finally {
      Files.setPosixFilePermissions(pgData, permissions);
    }
    // Back to SERVING and to live once a restart succeeds (liveness follows the supervisor's
    // next successful restart, which may land a moment after the database answers again).
    long upDeadline = System.nanoTime() + RECOVERY_BOUND.toNanos();
    while ((health(channel) != ServingStatus.SERVING
            || httpStatus(service.httpPort(), "/q/health/live") != 200)
        && System.nanoTime() < upDeadline) {
      Thread.sleep(100);
    }
    assertEquals(ServingStatus.SERVING, health(channel), service.logTail());
    assertEquals(200, httpStatus(service.httpPort(), "/q/health/live"));
    assertEquals("after-the-kill", experimentName(channel, after));
  }

  @Test
  void aKilledServiceTakesItsPostmasterAlongAndRestartsOnAnotherPortFirstTime() throws Exception {
    GraftProcess first = launch(GraftProcess.freePort());
    ManagedChannel channel = first.start(Duration.ofMinutes(3));
    long id = experiment(channel, "survives-the-kill");
    ProcessHandle postmaster = first.postmaster().orElseThrow();

    long killedAt = System.nanoTime();
    first.kill();
    // A clean shutdown removes postmaster.pid (a reaped or zombie process says less: the
    // orphan's new parent may never reap it).
    Path pidFile = dataDir.resolve("postgres").resolve("postmaster.pid");
    long stopDeadline = killedAt + RECOVERY_BOUND.toNanos();
    while (Files.exists(pidFile) && System.nanoTime() < stopDeadline) {
      Thread.sleep(50);
    }
    double stopSeconds = (System.nanoTime() - killedAt) / 1e9;
    assertTrue(
        !Files.exists(pidFile),
        "postmaster " + postmaster.pid() + " did not shut down with its JVM");

    GraftProcess second = launch(GraftProcess.freePort());
    long startAt = System.nanoTime();
    ManagedChannel again = second.start(Duration.ofMinutes(3));
    double startSeconds = (System.nanoTime() - startAt) / 1e9;
    System.out.printf(
        "SUPERVISION: postmaster gone %.2f s after kill -9 of the JVM; restart on another port"
            + " answered in %.2f s%n",
        stopSeconds, startSeconds);
    assertEquals("survives-the-kill", experimentName(again, id));
    assertEquals(ServingStatus.SERVING, health(again));
    assertTrue(second.logTail().contains("Embedded PostgreSQL on port " + second.databasePort()));
  }
}
