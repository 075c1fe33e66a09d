package dev.graft.bus;

import dev.graft.core.DatabaseStartup;
import dev.graft.core.RoleConfig;
import dev.graft.core.ServiceRole;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * This process's end of the notifications between Graft processes: sends NOTIFYs in order on one
 * background thread (a publisher never waits on the database), and LISTENs on {@link #RUN_EVENTS}
 * and {@link #MODELS} over a dedicated connection ({@link PgListener}), handing payloads to the
 * subscribers of each channel. Every process has an {@link #origin()} so that it can ignore what it
 * sent itself.
 */
@ApplicationScoped
public class Bus {

  /** Run events: JSON of one event, or a reference to a row of {@code run_event}. */
  public static final String RUN_EVENTS = "graft_run_events";

  /** Model registry changes (database triggers): {@code {model, alias|version}}. */
  public static final String MODELS = "graft_models";

  /** A run became QUEUED (database trigger, V19): its id. Trainers wake and claim. */
  public static final String RUN_QUEUE = "graft_run_queue";

  private static final Logger LOG = Logger.getLogger(Bus.class);
  private static final int QUEUE = 10_000;

  /** Work for the sending thread, on a pooled connection. */
  @FunctionalInterface
  public interface Send {
    void on(Connection connection) throws SQLException;
  }

  private final boolean enabled;
  private final String origin;
  private final BusConfig config;
  private final DataSource dataSource;
  private final String url;
  private final String user;
  private final Optional<String> password;
  private final Map<String, List<Consumer<String>>> subscribers = new ConcurrentHashMap<>();
  private final List<Runnable> reconnectActions = new CopyOnWriteArrayList<>();
  private final BlockingQueue<Send> outbox = new ArrayBlockingQueue<>(QUEUE);
  private volatile PgListener listener;
  private volatile Thread sender;
  private volatile boolean stopping;
  private volatile boolean overflowLogged;

  Bus(
      BusConfig config,
      RoleConfig roles,
      DatabaseStartup database,
      DataSource dataSource,
      @ConfigProperty(name = "quarkus.datasource.jdbc.url") String url,
      @ConfigProperty(name = "quarkus.datasource.username") String user,
      @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
    this.config = config;
    this.dataSource = dataSource;
    this.url = url;
    this.user = user;
    this.password = password;
    ServiceRole role = roles.role();
    this.enabled = config.enabled().orElse(!(role == ServiceRole.ALL && database.usesEmbedded()));
    this.origin =
        role.name().toLowerCase(Locale.ROOT)
            + "@"
            + host()
            + "/"
            + pid()
            + "/"
            + UUID.randomUUID().toString().substring(0, 8);
  }

  /** Whether notifications are sent and received in this process. */
  public boolean enabled() {
    return enabled;
  }

  /** Who this process is in the notifications it sends: {@code <role>@<host>/<pid>/<random>}. */
  public String origin() {
    return origin;
  }

  /** Receives every payload of {@code channel} (on the listener's thread: hand long work off). */
  public void subscribe(String channel, Consumer<String> subscriber) {
    subscribers.computeIfAbsent(channel, c -> new CopyOnWriteArrayList<>()).add(subscriber);
  }

  /** Runs after the listening connection came back: what was sent meanwhile is lost. */
  public void onReconnect(Runnable action) {
    reconnectActions.add(action);
  }

  /** Whether the listening connection is up (false when disabled). */
  public boolean listening() {
    PgListener l = listener;
    return l != null && l.connected();
  }

  /** Sends {@code NOTIFY channel, payload} soon, after everything queued before it. */
  public void notify(String channel, String payload) {
    send(
        c -> {
          try (PreparedStatement s = c.prepareStatement("SELECT pg_notify(?, ?)")) {
            s.setString(1, channel);
            s.setString(2, payload);
            s.execute();
          }
        });
  }

  /** Queues work for the sending thread; dropped (logged once) when the queue is full. */
  public void send(Send work) {
    if (!enabled || stopping) {
      return;
    }
    if (!outbox.offer(work) && !overflowLogged) {
      overflowLogged = true;
      LOG.warnf("More than %d notifications wait for the database; dropping some", QUEUE);
    }
  }

  /** After the database is migrated (priority 1), before the services that subscribe. */
  void onStart(@Observes @Priority(2) StartupEvent event) {
    if (!enabled) {
      LOG.debug("Cross-process notifications off (one process on its embedded database)");
      return;
    }
    listener =
        new PgListener(
            url,
            user,
            password.orElse(null),
            List.of(RUN_EVENTS, MODELS, RUN_QUEUE),
            this::dispatch,
            config.maxReconnectBackoff());
    listener.onReconnect(() -> reconnectActions.forEach(Runnable::run));
    listener.start();
    Thread t = new Thread(this::sendLoop, "graft-bus-sender");
    t.setDaemon(true);
    t.start();
    sender = t;
    LOG.infof(
        "Cross-process notifications on (%s, %s, %s) as %s", RUN_EVENTS, MODELS, RUN_QUEUE, origin);
  }

  /** After the scheduler marked its runs (priority 1), before the database stops. */
  void onStop(@Observes @Priority(5_000) ShutdownEvent event) {
    stopping = true;
    Thread t = sender;
    if (t != null) {
      try {
        t.join(3_000); // flushes what is queued
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      t.interrupt();
    }
    PgListener l = listener;
    if (l != null) {
      l.close();
    }
  }

  private void dispatch(String channel, String payload) {
    for (Consumer<String> s : subscribers.getOrDefault(channel, List.of())) {
      s.accept(payload);
    }
  }

  private void sendLoop() {
    List<Send> batch = new ArrayList<>();
    while (true) {
      try {
        Send first = outbox.poll(200, TimeUnit.MILLISECONDS);
        if (first == null) {
          if (stopping) {
            return;
          }
          continue;
        }
        batch.add(first);
        outbox.drainTo(batch, 255);
        try (Connection c = dataSource.getConnection()) {
          for (Send s : batch) {
            s.on(c);
          }
        } catch (SQLException | RuntimeException e) {
          // The database is away: these are lost; receivers catch up from the store.
          LOG.debugf("Could not send %d notifications: %s", batch.size(), e.toString());
        }
        batch.clear();
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private static String host() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      return "unknown";
    }
  }

  private static String pid() {
    return String.valueOf(ManagementFactory.getRuntimeMXBean().getPid());
  }
}
