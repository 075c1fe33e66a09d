package dev.graft.core;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * The embedded PostgreSQL: real server binaries shipped in a Maven artifact, data kept under the
 * data directory so that it survives restarts. This bean is its one owner.
 */
@ApplicationScoped
public class EmbeddedDatabase {

  private static final Logger LOG = Logger.getLogger(EmbeddedDatabase.class);

  private final StorageConfig storage;
  private final DatabaseConfig config;
  private EmbeddedPostgres server;

  EmbeddedDatabase(StorageConfig storage, DatabaseConfig config) {
    this.storage = storage;
    this.config = config;
  }

  /** Starts the server unless it runs already. */
  public synchronized void start() {
    if (server != null) {
      return;
    }
    Path dataDir = storage.area("postgres").toAbsolutePath();
    Path workDir = storage.area("postgres-bin").toAbsolutePath();
    try {
      Files.createDirectories(dataDir);
      Files.createDirectories(workDir);
      long started = System.nanoTime();
      EmbeddedPostgres.Builder builder =
          EmbeddedPostgres.builder()
              .setPort(config.embeddedPort())
              .setDataDirectory(dataDir)
              .setCleanDataDirectory(false)
              .setOverrideWorkingDirectory(workDir.toFile());
      serverSettings(config.embeddedDurable()).forEach(builder::setServerConfig);
      server = builder.start();
      LOG.infof(
          "Embedded PostgreSQL on port %d with data in %s (%s; started in %d ms)",
          config.embeddedPort(),
          dataDir,
          config.embeddedDurable() ? "durable: fsync, synchronous commit" : "not durable",
          (System.nanoTime() - started) / 1_000_000);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "Could not start the embedded PostgreSQL on port "
              + config.embeddedPort()
              + " with data in "
              + dataDir
              + ": is the port free and the directory writable? Set graft.database.embedded-port"
              + " or QUARKUS_DATASOURCE_JDBC_URL to use another server.",
          e);
    }
  }

  /**
   * Settings given to the server on its command line, after the library's own (which include {@code
   * -F}, fsync off, and {@code synchronous_commit=off}, meant for throwaway databases): a later
   * setting overrides an earlier one.
   */
  static Map<String, String> serverSettings(boolean durable) {
    Map<String, String> settings = new LinkedHashMap<>();
    settings.put("fsync", durable ? "on" : "off");
    settings.put("synchronous_commit", durable ? "on" : "off");
    settings.put("full_page_writes", durable ? "on" : "off");
    return settings;
  }

  /** Stops the server; its data stays on disk for the next start. */
  public synchronized void stop() {
    if (server == null) {
      return;
    }
    try {
      server.close();
    } catch (IOException e) {
      LOG.warn("Embedded PostgreSQL did not stop cleanly", e);
    } finally {
      server = null;
    }
  }

  public synchronized boolean isRunning() {
    return server != null;
  }
}
