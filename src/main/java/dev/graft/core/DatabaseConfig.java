package dev.graft.core;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** The embedded PostgreSQL that Graft starts when no other database is configured. */
@ConfigMapping(prefix = "graft.database")
public interface DatabaseConfig {

  /**
   * Port of the embedded PostgreSQL. Graft starts it when the datasource URL is the embedded one,
   * {@code jdbc:postgresql://localhost:<port>/postgres}, which is the default.
   */
  @WithDefault("5532")
  int embeddedPort();

  /** Set to false to never start the embedded database, whatever the datasource URL. */
  @WithDefault("true")
  boolean embeddedEnabled();

  /** The datasource URL under which the embedded database is reached. */
  default String embeddedJdbcUrl() {
    return "jdbc:postgresql://localhost:" + embeddedPort() + "/postgres";
  }
}
