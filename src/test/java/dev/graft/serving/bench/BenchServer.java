package dev.graft.serving.bench;

import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.kserve.ServerReadyRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The packaged service ({@code target/quarkus-app/quarkus-run.jar}) started as a child process on
 * free ports with a fresh data directory, so that benchmarks measure it through gRPC like any
 * client, and its resident memory can be read from /proc. Models are registered straight into its
 * embedded PostgreSQL, as training would register them (there is no registration RPC).
 */
public final class BenchServer implements AutoCloseable {

  private final Process process;
  private final Path dataDir;
  private final int dbPort;
  private final int grpcPort;
  public final ManagedChannel channel;

  private BenchServer(Process process, Path dataDir, int dbPort, int grpcPort) {
    this.process = process;
    this.dataDir = dataDir;
    this.dbPort = dbPort;
    this.grpcPort = grpcPort;
    this.channel =
        ManagedChannelBuilder.forAddress("localhost", grpcPort)
            .usePlaintext()
            // Responses are handled on the transport's thread: the load generator's callbacks only
            // count and send the next request, and a thread hop each would take CPU from the
            // server it shares the machine with.
            .directExecutor()
            .build();
  }

  /**
   * Starts the jar; {@code prefix} goes before the java command (e.g. taskset). With {@code
   * -Dquarkus.grpc.server.use-separate-server=false} among the options gRPC is served on the HTTP
   * port by the Vert.x gRPC server, as before Graft moved it to its own port.
   */
  public static BenchServer start(
      Path jar, Path dataDir, List<String> prefix, List<String> jvmOptions) throws Exception {
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(jar + " is missing: run mvn -o -DskipTests package first");
    }
    Files.createDirectories(dataDir);
    int db = freePort();
    int http = freePort();
    int grpc =
        jvmOptions.contains("-Dquarkus.grpc.server.use-separate-server=false") ? http : freePort();
    List<String> command = new java.util.ArrayList<>(prefix);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.addAll(
        List.of(
            "-Dgraft.storage.dir=" + dataDir.toAbsolutePath(),
            "-Dgraft.database.embedded-port=" + db,
            "-Dquarkus.http.port=" + http,
            "-Dquarkus.grpc.server.port=" + grpc,
            // A fresh data directory would pre-train a base model in the background, taking the
            // cores the measurements need.
            "-Dgraft.bootstrap.pretrain=false",
            "-Dgraft.bootstrap.register-minilm=false",
            "-jar",
            jar.toAbsolutePath().toString()));
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(dataDir.resolve("server.log").toFile())
            .start();
    BenchServer server = new BenchServer(p, dataDir, db, grpc);
    server.awaitReady();
    return server;
  }

  /** The gRPC port. */
  public int port() {
    return grpcPort;
  }

  public long pid() {
    return process.pid();
  }

  /** Resident set size of the server process in KiB (Linux). */
  public long rssKib() throws IOException {
    for (String line :
        Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException("no VmRSS for " + process.pid());
  }

  /**
   * CPU time the server process has used so far (user + system, all threads), in nanoseconds, from
   * /proc at clock-tick resolution (Linux).
   */
  public long cpuNanos() throws IOException {
    return processCpuNanos(process.pid());
  }

  /** CPU time (user + system, all threads) of any process so far, in nanoseconds (Linux). */
  static long processCpuNanos(long pid) throws IOException {
    return statCpuNanos(Files.readString(Path.of("/proc", Long.toString(pid), "stat")));
  }

  /** utime + stime of a /proc stat line (process or thread), in nanoseconds. */
  private static long statCpuNanos(String stat) {
    // Fields after the command name (which may hold spaces) start after the last ')'.
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
    return ticks * (1_000_000_000L / CLOCK_TICKS_PER_SECOND);
  }

  /**
   * CPU time so far per thread group of the server (thread names with their digits removed, e.g.
   * {@code vert.x-eventloop-thread-#}), in nanoseconds, from /proc/PID/task (Linux). Threads that
   * ended are missing, so compare groups of long-lived threads only.
   */
  public java.util.Map<String, Long> cpuNanosByThreadGroup() throws IOException {
    java.util.Map<String, Long> groups = new java.util.TreeMap<>();
    try (var tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
      for (Path task : (Iterable<Path>) tasks::iterator) {
        String stat;
        try {
          stat = Files.readString(task.resolve("stat"));
        } catch (IOException ended) {
          continue;
        }
        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        groups.merge(name.replaceAll("[0-9]+", "#"), statCpuNanos(stat), Long::sum);
      }
    }
    return groups;
  }

  // USER_HZ, 100 on every Linux architecture the service runs on.
  private static final long CLOCK_TICKS_PER_SECOND = 100;

  private void awaitReady() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("server exited; see " + dataDir.resolve("server.log"));
      }
      try {
        if (GRPCInferenceServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(2, TimeUnit.SECONDS)
            .serverReady(ServerReadyRequest.getDefaultInstance())
            .getReady()) {
          return;
        }
      } catch (RuntimeException notYet) {
        // starting
      }
      Thread.sleep(500);
    }
    throw new IllegalStateException(
        "server not ready after 180 s; see " + dataDir.resolve("server.log"));
  }

  /** Registers the file as version 1 of {@code name} with alias latest. */
  public void register(String name, Path onnx, List<String> labels, Map<String, String> metadata)
      throws Exception {
    Path target = dataDir.resolve("models").resolve(name).resolve("1").resolve("model.onnx");
    Files.createDirectories(target.getParent());
    Files.copy(onnx, target, StandardCopyOption.REPLACE_EXISTING);
    String sha =
        HexFormat.of()
            .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(target)));
    try (Connection c =
        DriverManager.getConnection(
            "jdbc:postgresql://localhost:" + dbPort + "/postgres", "postgres", "postgres")) {
      long id;
      try (PreparedStatement s =
          c.prepareStatement(
              "INSERT INTO model_version (model_name, version, onnx_path, sha256, input_spec,"
                  + " labels, parity_max_abs_diff, metadata, created_at) VALUES (?, 1, ?, ?,"
                  + " '{}'::jsonb, ?::jsonb, 0, ?::jsonb, now()) RETURNING id")) {
        s.setString(1, name);
        s.setString(2, target.toAbsolutePath().toString());
        s.setString(3, sha);
        s.setString(4, json(labels));
        s.setString(5, json(metadata));
        try (ResultSet rs = s.executeQuery()) {
          rs.next();
          id = rs.getLong(1);
        }
      }
      try (PreparedStatement s =
          c.prepareStatement(
              "INSERT INTO model_alias (model_name, alias, model_version_id, updated_at)"
                  + " VALUES (?, 'latest', ?, now())")) {
        s.setString(1, name);
        s.setLong(2, id);
        s.executeUpdate();
      }
    }
  }

  private static String json(List<String> values) {
    return values.stream().map(v -> "\"" + v + "\"").collect(Collectors.joining(",", "[", "]"));
  }

  private static String json(Map<String, String> values) {
    return values.entrySet().stream()
        .map(e -> "\"" + e.getKey() + "\":\"" + e.getValue() + "\"")
        .collect(Collectors.joining(",", "{", "}"));
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}
