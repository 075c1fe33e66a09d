package dev.graft.it;

import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.ListExperimentsRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The packaged service ({@code target/quarkus-app/quarkus-run.jar}) as a child process with its own
 * data directory and ports, reached only through gRPC. Several processes may run one after another
 * on the same data directory, as a restarted service would.
 */
final class GraftProcess implements AutoCloseable {

  static final Path JAR = Path.of("target", "quarkus-app", "quarkus-run.jar");

  private final Path dataDir;
  private final int databasePort;
  private final int httpPort;
  // gRPC has its own port; one per process object, so a restarted service keeps it.
  private final int grpcPort = freePort();
  private final Path log;
  private Process process;
  private ManagedChannel channel;
  private List<String> extraArgs = List.of();
  private List<String> baseArgs = List.of();
  private Function<Integer, ManagedChannel> channelFactory =
      port -> ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
  private Metadata probeHeaders = new Metadata();
  private List<String> databaseArgs = List.of();
  private boolean healthProbe;

  GraftProcess(Path dataDir, int databasePort, int httpPort, Path log) {
    this.dataDir = dataDir;
    this.databasePort = databasePort;
    this.httpPort = httpPort;
    this.log = log;
  }

  /**
   * A process of a scale-out deployment: role {@code role}, the external PostgreSQL at {@code
   * jdbcUrl} (no embedded database), the shared artifact directory {@code dataDir}, its own ports.
   */
  static GraftProcess external(Path dataDir, String role, String jdbcUrl, Path log) {
    GraftProcess p = new GraftProcess(dataDir, -1, freePort(), log);
    p.baseArgs =
        List.of(
            "-Dgraft.role=" + role,
            "-Dgraft.database.embedded-enabled=false",
            "-Dquarkus.datasource.jdbc.url=" + jdbcUrl);
    return p;
  }

  /** More JVM arguments ({@code -Dkey=value}), after the defaults so that they win. */
  GraftProcess withArgs(List<String> args) {
    this.extraArgs = List.copyOf(args);
    return this;
  }

  /**
   * Uses a PostgreSQL the test started (shared by several processes) instead of the embedded one,
   * as the roles other than {@code all} must; readiness is then probed through gRPC health, which
   * answers in every role.
   */
  GraftProcess withExternalDatabase(String jdbcUrl, String user, String password) {
    this.databaseArgs =
        List.of(
            "-Dquarkus.datasource.jdbc.url=" + jdbcUrl,
            "-Dquarkus.datasource.username=" + user,
            "-Dquarkus.datasource.password=" + password,
            "-Dgraft.database.embedded-enabled=false");
    this.healthProbe = true;
    return this;
  }

  /** How to reach the gRPC port (TLS, client certificates) and what the start-up probe sends. */
  GraftProcess withChannel(Function<Integer, ManagedChannel> factory, Metadata headers) {
    this.channelFactory = factory;
    this.probeHeaders = headers;
    return this;
  }

  int grpcPort() {
    return grpcPort;
  }

  /** Starts the service and waits until it answers gRPC calls. */
  ManagedChannel start(Duration timeout) throws IOException, InterruptedException {
    launch();
    return awaitReady(timeout);
  }

  /** Starts the service's process without waiting for it. */
  void launch() throws IOException {
    if (!Files.isRegularFile(JAR)) {
      throw new IllegalStateException(
          JAR.toAbsolutePath() + " is missing: integration tests run after `mvn package`");
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>();
    command.add(java);
    command.add("-Xmx2g");
    command.add("-Dgraft.storage.dir=" + dataDir.toAbsolutePath());
    if (databasePort > 0) {
      command.add("-Dgraft.database.embedded-port=" + databasePort);
    }
    command.addAll(baseArgs);
    command.add("-Dquarkus.http.port=" + httpPort);
    command.add("-Dquarkus.grpc.server.port=" + grpcPort);
    command.add("-Dai.djl.offline=true");
    // Nothing pre-trained or registered behind the test's back.
    command.add("-Dgraft.bootstrap.pretrain=false");
    // A progress event after every batch: the test must see the middle of an epoch however
    // fast the machine trains.
    command.add("-Dgraft.training.progress-interval-ms=0");
    command.add("-Dgraft.bootstrap.register-minilm=false");
    command.addAll(databaseArgs);
    command.addAll(extraArgs);
    command.add("-jar");
    command.add(JAR.toAbsolutePath().toString());
    ProcessBuilder builder = new ProcessBuilder(command);
    builder
        .environment()
        .put("DJL_CACHE_DIR", Path.of("target", "native", "djl").toAbsolutePath().toString());
    builder.redirectErrorStream(true);
    builder.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    process = builder.start();
  }

  /** Waits until the launched service answers gRPC calls; its channel. */
  ManagedChannel awaitReady(Duration timeout) throws InterruptedException {
    channel = channelFactory.apply(grpcPort);
    Instant deadline = Instant.now().plus(timeout);
    while (true) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "the service exited with " + process.exitValue() + " while starting:\n" + logTail());
      }
      try {
        if (healthProbe) {
          var health =
              grpc.health.v1.HealthGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(2, TimeUnit.SECONDS)
                  .check(grpc.health.v1.HealthOuterClass.HealthCheckRequest.getDefaultInstance());
          if (health.getStatus()
              == grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus.SERVING) {
            return channel;
          }
          throw new StatusRuntimeException(Status.UNAVAILABLE.withDescription("not serving yet"));
        }
        ExperimentServiceGrpc.newBlockingStub(channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(probeHeaders))
            .withDeadlineAfter(2, TimeUnit.SECONDS)
            .listExperiments(ListExperimentsRequest.newBuilder().setPageSize(1).build());
        return channel;
      } catch (StatusRuntimeException notYet) {
        // Before start-up is complete the port is closed or the call is refused as UNAVAILABLE
        // (StartupGate): any other answer means a call reached a service that was not ready.
        if (notYet.getStatus().getCode() != Status.Code.UNAVAILABLE
            && notYet.getStatus().getCode() != Status.Code.DEADLINE_EXCEEDED) {
          throw new IllegalStateException("a call during start-up got " + notYet.getStatus());
        }
        if (Instant.now().isAfter(deadline)) {
          throw new IllegalStateException(
              "the service did not answer within " + timeout + ":\n" + logTail());
        }
        Thread.sleep(250);
      }
    }
  }

  /**
   * Waits until the launched service reports SERVING on the standard health service (every role
   * answers it, whichever other services it runs).
   */
  void awaitHealthy(Duration timeout) throws InterruptedException {
    channel = channelFactory.apply(grpcPort);
    Instant deadline = Instant.now().plus(timeout);
    while (true) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "the service exited with " + process.exitValue() + " while starting:\n" + logTail());
      }
      try {
        var status =
            grpc.health.v1.HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(2, TimeUnit.SECONDS)
                .check(
                    grpc.health.v1.HealthOuterClass.HealthCheckRequest.newBuilder()
                        .setService("")
                        .build())
                .getStatus();
        if (status == grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus.SERVING) {
          return;
        }
      } catch (StatusRuntimeException notYet) {
        // the port is not open yet, or start-up is under way
      }
      if (Instant.now().isAfter(deadline)) {
        throw new IllegalStateException(
            "the service was not healthy within " + timeout + ":\n" + logTail());
      }
      Thread.sleep(250);
    }
  }

  /** The gRPC channel of a started process. */
  ManagedChannel channel() {
    return channel;
  }

  /** SIGTERM, without waiting: the service shuts down gracefully. */
  void terminate() {
    process.destroy();
  }

  /** Waits for the process to exit; false if it still runs after {@code timeout}. */
  boolean awaitExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** {@code kill -9}: no shutdown hook runs, nothing is flushed or marked. */
  void kill() throws InterruptedException {
    closeChannel();
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** A normal stop (SIGTERM): the service stops its embedded PostgreSQL itself. */
  @Override
  public void close() throws InterruptedException {
    closeChannel();
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * The embedded PostgreSQL server of this data directory, if one runs: a child of the service's
   * JVM, which stops it on exit (even when killed, through its parent-death signal).
   */
  Optional<ProcessHandle> postmaster() {
    Path pid = dataDir.resolve("postgres").resolve("postmaster.pid");
    try {
      if (!Files.isRegularFile(pid)) {
        return Optional.empty();
      }
      long id = Long.parseLong(Files.readAllLines(pid).get(0).trim());
      return ProcessHandle.of(id)
          .filter(ProcessHandle::isAlive)
          .filter(
              p ->
                  p.info()
                      .commandLine()
                      .map(c -> c.contains(dataDir.toAbsolutePath().toString()))
                      .orElse(false));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The service's JVM. */
  ProcessHandle handle() {
    return process.toHandle();
  }

  int databasePort() {
    return databasePort;
  }

  int httpPort() {
    return httpPort;
  }

  String logTail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private void closeChannel() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      channel = null;
    }
  }

  static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
