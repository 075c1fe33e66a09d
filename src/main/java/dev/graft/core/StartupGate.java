package dev.graft.core;

import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/**
 * Open once every start-up step has run: the database up and migrated, interrupted runs marked,
 * datasets cleaned. Quarkus opens the gRPC port before its start-up observers run, so calls that
 * arrive earlier are refused (UNAVAILABLE) behind this gate instead of meeting a schema that does
 * not exist yet; readiness ({@link StartupCheck}), and with it gRPC health, stays DOWN until the
 * gate opens.
 */
@Singleton
public class StartupGate {

  private static final Logger LOG = Logger.getLogger(StartupGate.class);

  /** What a call that arrives before the gate opens is told. */
  public static final String STARTING =
      "Graft is starting (the experiment store is being migrated); retry in a few seconds";

  private volatile boolean open;

  /** After every other start-up observer (they use priorities 0 to a few thousand). */
  void onStart(@Observes @Priority(1_000_000) StartupEvent event) {
    open = true;
    LOG.info("Start-up complete: serving gRPC calls");
  }

  public boolean isOpen() {
    return open;
  }
}
