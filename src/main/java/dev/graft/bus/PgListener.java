package dev.graft.bus;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import org.jboss.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * LISTENs on PostgreSQL channels over one dedicated connection (not from the pool: LISTEN belongs
 * to a session), on its own daemon thread, and hands every notification to {@code handler}
 * (channel, payload). When the connection fails (the database restarted, the network broke) it
 * reconnects with exponential backoff up to {@code maxBackoff}, LISTENs again and runs the {@link
 * #onReconnect} actions: notifications sent meanwhile are lost, so their owners re-read what they
 * track.
 */
public final class PgListener implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(PgListener.class);
  private static final int POLL_MS = 500;
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(100);

  private final String url;
  private final Properties properties = new Properties();
  private final List<String> channels;
  private final BiConsumer<String, String> handler;
  private final Duration maxBackoff;
  private final List<Runnable> reconnectActions = new CopyOnWriteArrayList<>();
  private final Thread thread;
  private volatile boolean running = true;
  private volatile boolean connected;
  private volatile Connection connection;
  private volatile long connections;

  public PgListener(
      String url,
      String user,
      String password,
      List<String> channels,
      BiConsumer<String, String> handler,
      Duration maxBackoff) {
    this.url = url;
    if (user != null) {
      properties.setProperty("user", user);
    }
    if (password != null) {
      properties.setProperty("password", password);
    }
    properties.setProperty("connectTimeout", "3");
    properties.setProperty("tcpKeepAlive", "true");
    properties.setProperty("ApplicationName", "graft-listener");
    this.channels = List.copyOf(channels);
    this.handler = handler;
    this.maxBackoff = maxBackoff;
    this.thread = new Thread(this::loop, "graft-bus-listener");
    thread.setDaemon(true);
  }

  /** Starts listening (connects on the listener's thread). */
  public PgListener start() {
    thread.start();
    return this;
  }

  /** Runs {@code action} on the listener's thread after every reconnect (not the first connect). */
  public void onReconnect(Runnable action) {
    reconnectActions.add(action);
  }

  /** Whether the listening connection is up now. */
  public boolean connected() {
    return connected;
  }

  /** How many times it connected (1 after the first connect, 2 after one reconnect, ...). */
  public long connections() {
    return connections;
  }

  private void loop() {
    Duration backoff = FIRST_BACKOFF;
    while (running) {
      try (Connection c = new org.postgresql.Driver().connect(url, properties)) {
        if (c == null) {
          throw new SQLException("the PostgreSQL driver does not accept " + url);
        }
        connection = c;
        try (Statement s = c.createStatement()) {
          for (String channel : channels) {
            s.execute("LISTEN " + channel);
          }
        }
        connected = true;
        long n = ++connections;
        backoff = FIRST_BACKOFF;
        if (n > 1) {
          LOG.infof("Listening on %s again (connection %d)", channels, n);
          reconnectActions.forEach(PgListener::runQuietly);
        } else {
          LOG.debugf("Listening on %s", channels);
        }
        PGConnection pg = c.unwrap(PGConnection.class);
        while (running) {
          PGNotification[] received = pg.getNotifications(POLL_MS);
          if (received != null) {
            for (PGNotification n2 : received) {
              try {
                handler.accept(n2.getName(), n2.getParameter());
              } catch (RuntimeException e) {
                LOG.warnf(e, "A notification on %s could not be handled", n2.getName());
              }
            }
          }
        }
      } catch (SQLException | RuntimeException e) {
        boolean was = connected;
        connected = false;
        if (!running) {
          return;
        }
        if (was) {
          LOG.warnf("The listening connection failed (%s); reconnecting", e.toString());
        } else {
          LOG.debugf("Cannot listen yet (%s); retrying in %s", e.toString(), backoff);
        }
        try {
          Thread.sleep(backoff.toMillis());
        } catch (InterruptedException ie) {
          return;
        }
        backoff =
            backoff.multipliedBy(2).compareTo(maxBackoff) > 0
                ? maxBackoff
                : backoff.multipliedBy(2);
      } finally {
        connection = null;
      }
    }
  }

  private static void runQuietly(Runnable action) {
    try {
      action.run();
    } catch (RuntimeException e) {
      LOG.warnf(e, "An action after reconnecting failed");
    }
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    Connection c = connection;
    if (c != null) {
      try {
        c.close();
      } catch (SQLException ignored) {
        // closing anyway
      }
    }
    try {
      thread.join(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
