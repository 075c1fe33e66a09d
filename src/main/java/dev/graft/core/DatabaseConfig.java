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

  /**
   * Whether the embedded PostgreSQL is durable: fsync on and synchronous commit, so that a
   * committed run, version or alias survives an OS crash or a power loss. Tests may turn it off for
   * speed.
   */
  @WithDefault("true")
  boolean embeddedDurable();

  /** The datasource URL under which the embedded database is reached. */
  default String embeddedJdbcUrl() {
    return "jdbc:postgresql://localhost:" + embeddedPort() + "/postgres";
  }
}
