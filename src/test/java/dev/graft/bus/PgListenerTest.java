package dev.graft.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The listener against a real PostgreSQL: notifications arrive, and after the server is stopped and
 * started again (as the supervised embedded database restarts) it reconnects by itself, LISTENs
 * again and runs its reconnect actions.
 */
class PgListenerTest {

  @Test
  void receivesNotificationsAndReconnectsAfterTheDatabaseRestarts() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path dir = Files.createTempDirectory("graft-listener-pg");
    String url = "jdbc:postgresql://localhost:" + port + "/postgres";
    BlockingQueue<String> received = new LinkedBlockingQueue<>();
    AtomicInteger reconnects = new AtomicInteger();
    EmbeddedPostgres pg = start(port, dir);
    try (PgListener listener =
        new PgListener(
            url,
            "postgres",
            "postgres",
            List.of(Bus.RUN_EVENTS, Bus.MODELS),
            (channel, payload) -> received.add(channel + " " + payload),
            Duration.ofMillis(500))) {
      listener.onReconnect(reconnects::incrementAndGet);
      listener.start();
      awaitConnected(listener);
      long sent = System.nanoTime();
      notify(pg, Bus.MODELS, "{\"model\":\"m\",\"alias\":\"prod\"}");
      assertEquals(
          "graft_models {\"model\":\"m\",\"alias\":\"prod\"}", received.poll(10, TimeUnit.SECONDS));
      System.out.printf(
          "PgListenerTest: a notification arrived %.1f ms after it was sent%n",
          (System.nanoTime() - sent) / 1e6);

      pg.close(); // the server goes away under the listening connection
      long stopped = System.nanoTime();
      pg = start(port, dir);
      awaitConnected(listener);
      assertEquals(2, listener.connections());
      System.out.printf(
          "PgListenerTest: listening again %.0f ms after the server stopped%n",
          (System.nanoTime() - stopped) / 1e6);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (reconnects.get() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertEquals(1, reconnects.get());
      notify(pg, Bus.RUN_EVENTS, "after the restart");
      assertEquals("graft_run_events after the restart", received.poll(10, TimeUnit.SECONDS));
    } finally {
      pg.close();
    }
  }

  private static EmbeddedPostgres start(int port, Path dir) throws Exception {
    return EmbeddedPostgres.builder()
        .setPort(port)
        .setDataDirectory(dir)
        .setCleanDataDirectory(false)
        .start();
  }

  private static void awaitConnected(PgListener listener) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!listener.connected()) {
      assertTrue(System.nanoTime() < deadline, "the listener did not connect");
      Thread.sleep(20);
    }
  }

  private static void notify(EmbeddedPostgres pg, String channel, String payload) throws Exception {
    try (Connection c = pg.getPostgresDatabase().getConnection();
        PreparedStatement s = c.prepareStatement("SELECT pg_notify(?, ?)")) {
      s.setString(1, channel);
      s.setString(2, payload);
      s.execute();
    }
  }
}
