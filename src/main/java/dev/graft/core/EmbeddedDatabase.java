package dev.graft.core;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import io.zonky.test.db.postgres.util.LinuxUtils;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * The embedded PostgreSQL: real server binaries shipped in a Maven artifact, data kept under the
 * data directory so that it survives restarts. This bean is its one owner and supervises it.
 *
 * <p>The postmaster runs as a child of the JVM (the library's pg_ctl would detach it): when it dies
 * it is restarted on the same data directory, with backoff (PostgreSQL's crash recovery makes that
 * safe), and liveness goes DOWN while restarts keep failing. It is started with a parent-death
 * signal, so that it stops (fast shutdown) even when the JVM is killed; a server left running on
 * the data directory by an earlier process is found through {@code postmaster.pid} and stopped
 * before starting. The library only unpacks the binaries and creates the cluster, once.
 */
@ApplicationScoped
public class EmbeddedDatabase {

  private static final Logger LOG = Logger.getLogger(EmbeddedDatabase.class);

  /** Consecutive failed restarts after which the service reports itself not alive. */
  static final int FAILED_RESTARTS_UNTIL_DEAD = 3;

  private static final long START_TIMEOUT_MS = 60_000;
  private static final long STOP_TIMEOUT_MS = 30_000;
  private static final long MAX_BACKOFF_MS = 5_000;

  private final StorageConfig storage;
  private final DatabaseConfig config;
  // Every postmaster is started from this one thread, which lives as long as the JVM: the
  // parent-death signal fires when the thread that started the process ends.
  private final ExecutorService launcher =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "embedded-postgres");
            t.setDaemon(true);
            return t;
          });
  private volatile Process server;
  private volatile boolean stopping;
  private volatile int failedRestarts;

  EmbeddedDatabase(StorageConfig storage, DatabaseConfig config) {
    this.storage = storage;
    this.config = config;
  }

  /** Starts the server unless it runs already; waits until it accepts connections. */
  public synchronized void start() {
    if (server != null) {
      return;
    }
    stopping = false;
    try {
      launcher.submit(this::firstStart).get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting the embedded PostgreSQL", e);
    }
  }

  private Path dataDir() {
    return storage.area("postgres").toAbsolutePath();
  }

  private Path workDir() {
    return storage.area("postgres-bin").toAbsolutePath();
  }

  private void firstStart() {
    Path dataDir = dataDir();
    try {
      Files.createDirectories(dataDir);
      Files.createDirectories(workDir());
      long started = System.nanoTime();
      stopOrphan(dataDir);
      Path postgres = binaries().orElse(null);
      if (postgres == null || !Files.isRegularFile(dataDir.resolve("PG_VERSION"))) {
        postgres = initialize(dataDir);
      }
      launch(postgres);
      LOG.infof(
          "Embedded PostgreSQL on port %d with data in %s (pid %d, %s; started in %d ms)",
          config.embeddedPort(),
          dataDir,
          server.pid(),
          config.embeddedDurable() ? "durable: fsync, synchronous commit" : "not durable",
          (System.nanoTime() - started) / 1_000_000);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException(
          "Could not start the embedded PostgreSQL on port "
              + config.embeddedPort()
              + " with data in "
              + dataDir
              + ": is the port free and the directory writable? Set graft.database.embedded-port"
              + " or QUARKUS_DATASOURCE_JDBC_URL to use another server. ("
              + e.getMessage()
              + ")",
          e);
    }
  }

  /** Lets the library unpack the binaries and create the cluster (initdb), then stops it. */
  private Path initialize(Path dataDir) throws IOException {
    LOG.infof("Preparing the embedded PostgreSQL in %s (first start)", dataDir);
    EmbeddedPostgres.builder()
        .setPort(config.embeddedPort())
        .setDataDirectory(dataDir)
        .setCleanDataDirectory(false)
        .setOverrideWorkingDirectory(workDir().toFile())
        .start()
        .close();
    return binaries()
        .orElseThrow(() -> new IOException("no PostgreSQL binaries were unpacked in " + workDir()));
  }

  /** The unpacked {@code postgres} binary, the newest if several versions were unpacked. */
  private Optional<Path> binaries() throws IOException {
    try (Stream<Path> dirs = Files.list(workDir())) {
      return dirs.map(d -> d.resolve("bin").resolve("postgres"))
          .filter(Files::isExecutable)
          .max(Comparator.comparing(p -> p.toFile().lastModified()));
    }
  }

  /**
   * A server still running on the data directory was left by a process that died without stopping
   * it (a JVM killed before this version supervised its server, or on a system without a
   * parent-death signal): it is stopped cleanly (fast shutdown), never adopted, so that this
   * process owns the one it uses.
   */
  private static void stopOrphan(Path dataDir) throws IOException {
    Path pidFile = dataDir.resolve("postmaster.pid");
    if (!Files.isRegularFile(pidFile)) {
      return;
    }
    List<String> lines = Files.readAllLines(pidFile);
    long pid;
    try {
      pid = Long.parseLong(lines.get(0).trim());
    } catch (RuntimeException e) {
      return; // unreadable: PostgreSQL itself judges a stale lock file
    }
    Optional<ProcessHandle> orphan =
        ProcessHandle.of(pid)
            .filter(ProcessHandle::isAlive)
            .filter(
                p ->
                    p.info()
                        .commandLine()
                        .map(c -> c.contains("postgres") && c.contains(dataDir.toString()))
                        .orElse(false));
    if (orphan.isEmpty()) {
      return;
    }
    String port = lines.size() > 3 ? lines.get(3).trim() : "?";
    LOG.warnf(
        "An embedded PostgreSQL left by an earlier Graft still runs on %s (pid %d, port %s):"
            + " stopping it (fast shutdown) to start this service's own",
        dataDir, pid, port);
    signal(pid, "INT");
    if (!waitForExit(orphan.get(), STOP_TIMEOUT_MS)) {
      LOG.warnf("PostgreSQL pid %d did not stop within %d ms: killing it", pid, STOP_TIMEOUT_MS);
      orphan.get().destroyForcibly();
      waitForExit(orphan.get(), STOP_TIMEOUT_MS);
    }
    LOG.infof("Stopped the earlier PostgreSQL (pid %d)", pid);
  }

  /** The command line of the postmaster, run as a child of this JVM. */
  List<String> command(Path postgres) {
    List<String> command = new ArrayList<>();
    if (LinuxUtils.isUnshareAvailable()) {
      // PostgreSQL refuses to run as root; in a new user namespace it runs unprivileged.
      command.addAll(List.of("unshare", "-U"));
    }
    if (onPath("setpriv")) {
      command.addAll(List.of("setpriv", "--pdeathsig", "INT", "--"));
    }
    command.addAll(
        List.of(postgres.toString(), "-D", dataDir().toString(), "-p", "" + config.embeddedPort()));
    Map<String, String> settings = new LinkedHashMap<>();
    settings.put("listen_addresses", "localhost");
    settings.put("max_connections", "300");
    settings.put("timezone", "UTC");
    settings.putAll(serverSettings(config.embeddedDurable()));
    settings.forEach((k, v) -> command.addAll(List.of("-c", k + "=" + v)));
    return command;
  }

  /** Settings that decide durability: on by default, off only where data is thrown away. */
  static Map<String, String> serverSettings(boolean durable) {
    Map<String, String> settings = new LinkedHashMap<>();
    settings.put("fsync", durable ? "on" : "off");
    settings.put("synchronous_commit", durable ? "on" : "off");
    settings.put("full_page_writes", durable ? "on" : "off");
    return settings;
  }

  private static boolean onPath(String program) {
    String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }

  /** Starts the postmaster and waits until it accepts connections; runs on the launcher thread. */
  private void launch(Path postgres) throws IOException {
    Path log = workDir().resolve("postgres.log");
    ProcessBuilder builder = new ProcessBuilder(command(postgres));
    builder.redirectErrorStream(true);
    builder.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Process p = builder.start();
    long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
    while (true) {
      if (!p.isAlive()) {
        throw new IOException(
            "PostgreSQL exited with code " + p.exitValue() + " while starting; see " + log);
      }
      if (accepts()) {
        break;
      }
      if (System.currentTimeMillis() > deadline) {
        p.destroyForcibly();
        throw new IOException(
            "PostgreSQL did not accept connections within " + START_TIMEOUT_MS + " ms; see " + log);
      }
      sleep(100);
    }
    server = p;
    p.onExit().thenRun(() -> died(p));
  }

  private boolean accepts() {
    String url =
        "jdbc:postgresql://localhost:"
            + config.embeddedPort()
            + "/postgres?user=postgres&connectTimeout=2&socketTimeout=5";
    try (Connection c = DriverManager.getConnection(url)) {
      return c.isValid(2);
    } catch (SQLException e) {
      return false;
    }
  }

  private void died(Process p) {
    if (stopping || p != server) {
      return;
    }
    LOG.errorf(
        "The embedded PostgreSQL (pid %d) exited with code %d: restarting it on the same data"
            + " directory",
        p.pid(), p.exitValue());
    launcher.submit(() -> restart(p));
  }

  /** Restarts the server until it runs again or the service stops, backing off between tries. */
  private void restart(Process dead) {
    long began = System.nanoTime();
    long backoff = 250;
    for (int attempt = 1; !stopping && server == dead; attempt++) {
      try {
        launch(binaries().orElseThrow(() -> new IOException("the binaries are gone")));
        failedRestarts = 0;
        LOG.infof(
            "Embedded PostgreSQL restarted (pid %d) %d ms after it died, at attempt %d",
            server.pid(), (System.nanoTime() - began) / 1_000_000, attempt);
        return;
      } catch (IOException | RuntimeException e) {
        failedRestarts = attempt;
        LOG.warnf("Restart %d of the embedded PostgreSQL failed: %s", attempt, e.getMessage());
        if (attempt == FAILED_RESTARTS_UNTIL_DEAD) {
          LOG.errorf(
              "The embedded PostgreSQL failed to restart %d times: liveness is DOWN; still trying",
              attempt);
        }
      }
      sleep(backoff);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
  }

  /** Stops the server (fast shutdown); its data stays on disk for the next start. */
  public synchronized void stop() {
    stopping = true;
    Process p = server;
    server = null;
    if (p == null || !p.isAlive()) {
      return;
    }
    try {
      signal(p.pid(), "INT");
      if (!waitForExit(p.toHandle(), STOP_TIMEOUT_MS)) {
        LOG.warn("Embedded PostgreSQL did not stop in time: killing it");
        p.destroyForcibly();
      }
    } catch (IOException e) {
      LOG.warn("Embedded PostgreSQL did not stop cleanly", e);
      p.destroyForcibly();
    }
  }

  /** True while this process has started a server and not stopped it (it may be restarting). */
  public boolean isRunning() {
    return server != null;
  }

  /** False when restarts of a dead server keep failing: the process should be replaced. */
  public boolean isAlive() {
    return failedRestarts < FAILED_RESTARTS_UNTIL_DEAD;
  }

  /** The pid of the running postmaster, if any. */
  public Optional<Long> pid() {
    Process p = server;
    return p != null && p.isAlive() ? Optional.of(p.pid()) : Optional.empty();
  }

  private static void signal(long pid, String signal) throws IOException {
    try {
      new ProcessBuilder("kill", "-" + signal, Long.toString(pid))
          .redirectErrorStream(true)
          .start()
          .waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while signalling pid " + pid, e);
    }
  }

  private static boolean waitForExit(ProcessHandle p, long millis) {
    try {
      p.onExit().get(millis, TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      return !p.isAlive();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !p.isAlive();
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
