package dev.graft.bus;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/** Notifications between Graft processes through PostgreSQL LISTEN/NOTIFY. */
@ConfigMapping(prefix = "graft.bus")
public interface BusConfig {

  /**
   * Whether this process sends and listens. Default: on, except for {@code graft.role=all} on its
   * embedded database, which no other process shares.
   */
  Optional<Boolean> enabled();

  /** The longest wait between attempts to reconnect the listening connection. */
  @WithDefault("5s")
  Duration maxReconnectBackoff();

  /**
   * A watched run of another process that has sent nothing for this long is looked up in the store
   * (its epochs, export and final status are delivered from there if they never arrived).
   */
  @WithDefault("5s")
  Duration runCatchUpInterval();
}
