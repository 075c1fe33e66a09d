package dev.graft.core;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flywaydb.core.Flyway;
import org.jboss.logging.Logger;

/**
 * Brings the experiment store up before anything else starts: the embedded PostgreSQL when the
 * datasource points at it, then the Flyway migrations, which are the only DDL. Roles other than
 * {@code all} refuse to start on the embedded database: their processes share one PostgreSQL.
 */
@Singleton
public class DatabaseStartup {

  private static final Logger LOG = Logger.getLogger(DatabaseStartup.class);

  private final EmbeddedDatabase embedded;
  private final DatabaseConfig config;
  private final Flyway flyway;
  private final String jdbcUrl;
  private final RoleConfig roles;

  DatabaseStartup(
      RoleConfig roles,
      EmbeddedDatabase embedded,
      DatabaseConfig config,
      Flyway flyway,
      @ConfigProperty(name = "quarkus.datasource.jdbc.url") String jdbcUrl) {
    this.roles = roles;
    this.embedded = embedded;
    this.config = config;
    this.flyway = flyway;
    this.jdbcUrl = jdbcUrl;
  }

  void onStart(@Observes @Priority(1) StartupEvent event) {
    if (usesEmbedded() && roles.role() != ServiceRole.ALL) {
      throw new IllegalStateException(
          "graft.role="
              + roles.role().name().toLowerCase(java.util.Locale.ROOT)
              + " needs the PostgreSQL that every Graft process shares, but the datasource is the"
              + " embedded database of this process only: set QUARKUS_DATASOURCE_JDBC_URL,"
              + " QUARKUS_DATASOURCE_USERNAME, QUARKUS_DATASOURCE_PASSWORD and"
              + " GRAFT_DATABASE_EMBEDDED_ENABLED=false (or run graft.role=all alone)");
    }
    if (usesEmbedded()) {
      embedded.start();
    } else {
      LOG.infof("Using the PostgreSQL at %s", jdbcUrl);
    }
    var result = flyway.migrate();
    LOG.infof(
        "Experiment store schema at version %s (%d migrations applied now)",
        flyway.info().current() == null ? "none" : flyway.info().current().getVersion(),
        result.migrationsExecuted);
  }

  /** Last of all shutdown observers: everything else may still write to the database. */
  void onStop(@Observes @Priority(10_000) ShutdownEvent event) {
    embedded.stop();
  }

  /** True when Graft owns the database: the datasource URL is the embedded one. */
  public boolean usesEmbedded() {
    return config.embeddedEnabled() && config.embeddedJdbcUrl().equals(jdbcUrl);
  }
}
