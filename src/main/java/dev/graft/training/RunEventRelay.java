package dev.graft.training;

import dev.graft.bus.Bus;
import dev.graft.bus.BusConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Run events across processes. Every event published in this process's {@link RunEventHub} is sent
 * on {@link Bus#RUN_EVENTS}: as JSON in the payload, or, when that would exceed {@link
 * RunEventCodec#MAX_NOTIFY_BYTES}, stored in table {@code run_event} (kept an hour) with its id in
 * the payload. Events of other processes are fed into the local hub in the order they arrive (their
 * own sequence numbers; own events ignored), so that WatchRun on an api process streams a run that
 * a trainer trains. A watched run that stays quiet for {@code graft.bus.run-catch-up-interval}, and
 * every watched run after the listener reconnects, is caught up from the store: epochs, export and
 * final status that never arrived.
 */
@ApplicationScoped
public class RunEventRelay {

  private static final Logger LOG = Logger.getLogger(RunEventRelay.class);

  private final Bus bus;
  private final RunEventHub hub;
  private final RunStore store;
  private final DataSource dataSource;
  private final BusConfig config;
  private ScheduledExecutorService worker;

  RunEventRelay(Bus bus, RunEventHub hub, RunStore store, DataSource dataSource, BusConfig config) {
    this.bus = bus;
    this.hub = hub;
    this.store = store;
    this.dataSource = dataSource;
    this.config = config;
  }

  /** After the bus (priority 2), before the scheduler publishes anything (priority 10). */
  void onStart(@Observes @Priority(3) StartupEvent event) {
    if (!bus.enabled()) {
      return;
    }
    // One thread: received events reach the hub in the order they arrived.
    worker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "graft-bus-runs");
              t.setDaemon(true);
              return t;
            });
    hub.relayTo(this::send);
    bus.subscribe(Bus.RUN_EVENTS, payload -> worker.execute(() -> received(payload)));
    bus.onReconnect(() -> worker.execute(() -> catchUp(java.time.Duration.ZERO)));
    long every = config.runCatchUpInterval().toMillis();
    worker.scheduleWithFixedDelay(
        () -> catchUp(config.runCatchUpInterval()), every, every, TimeUnit.MILLISECONDS);
  }

  void onStop(@Observes @Priority(6_000) ShutdownEvent event) {
    if (worker != null) {
      worker.shutdownNow();
    }
  }

  /** Sends one event of this process. */
  void send(RunEvent event) {
    String payload = RunEventCodec.encode(bus.origin(), event);
    if (payload.getBytes(StandardCharsets.UTF_8).length <= RunEventCodec.MAX_NOTIFY_BYTES) {
      bus.notify(Bus.RUN_EVENTS, payload);
      return;
    }
    bus.send(
        c -> {
          try (PreparedStatement s =
              c.prepareStatement(
                  "WITH e AS (INSERT INTO run_event (run_id, sequence, payload) VALUES (?, ?, ?)"
                      + " RETURNING id) SELECT pg_notify(?, json_build_object('origin', ?,"
                      + " 'run_id', ?, 'sequence', ?, 'ref', e.id)::text) FROM e")) {
            s.setLong(1, event.runId());
            s.setLong(2, event.sequence());
            s.setString(3, payload);
            s.setString(4, Bus.RUN_EVENTS);
            s.setString(5, bus.origin());
            s.setLong(6, event.runId());
            s.setLong(7, event.sequence());
            s.execute();
          }
          try (PreparedStatement s =
              c.prepareStatement(
                  "DELETE FROM run_event WHERE created_at < now() - interval '1 hour'")) {
            s.execute();
          }
        });
  }

  /** One payload from {@link Bus#RUN_EVENTS}. */
  void received(String payload) {
    RunEventCodec.Envelope envelope;
    try {
      envelope = RunEventCodec.decode(payload);
      if (envelope.origin().equals(bus.origin())) {
        return; // published here, already in the hub
      }
      if (envelope.event() == null) {
        envelope = RunEventCodec.decode(stored(envelope.ref()));
      }
    } catch (RuntimeException | SQLException e) {
      LOG.debugf("Ignoring a run event notification: %s", e.toString());
      return;
    }
    hub.receive(envelope.origin(), envelope.event());
  }

  private String stored(long ref) throws SQLException {
    try (var c = dataSource.getConnection();
        PreparedStatement s = c.prepareStatement("SELECT payload FROM run_event WHERE id = ?")) {
      s.setLong(1, ref);
      try (ResultSet r = s.executeQuery()) {
        if (!r.next()) {
          throw new SQLException("run_event " + ref + " is gone");
        }
        return r.getString(1);
      }
    }
  }

  /** Delivers from the store what watched runs quiet for {@code quiet} may have missed. */
  void catchUp(java.time.Duration quiet) {
    for (long runId : hub.quietWatchedRuns(quiet)) {
      try {
        RunView view = store.view(runId);
        hub.catchUp(runId, Runs.history(view, store.statusChanges(runId)));
      } catch (RuntimeException e) {
        LOG.debugf("Could not catch run %d up from the store: %s", runId, e.toString());
      }
    }
  }
}
