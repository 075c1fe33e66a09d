package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.experiments.RunStatus;
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.helpers.test.AssertSubscriber;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * An event too big for a NOTIFY payload goes through table {@code run_event}: the publisher stores
 * it (and notifies its id), and a watching process reads it back from there into its stream.
 */
@QuarkusTest
class RunEventTableTest extends GraftTest {

  @Inject RunEventRelay relay;
  @Inject RunEventHub hub;
  @Inject DataSource dataSource;

  @Test
  void aLargeEventIsStoredAndReadBackByTheWatchingProcess() throws Exception {
    long run = 900_000 + (System.nanoTime() % 1000);
    RunEvent big =
        new RunEvent.PhaseStarted(run, 7, RunEventHub.now(), "fine-tune", "y".repeat(12_000));
    relay.send(big);
    long id = 0;
    String stored = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (stored == null && System.nanoTime() < deadline) {
      try (Connection c = dataSource.getConnection();
          PreparedStatement s =
              c.prepareStatement("SELECT id, payload FROM run_event WHERE run_id = ?")) {
        s.setLong(1, run);
        try (ResultSet r = s.executeQuery()) {
          if (r.next()) {
            id = r.getLong(1);
            stored = r.getString(2);
          }
        }
      }
      Thread.sleep(20);
    }
    assertTrue(stored != null, "the event was stored");
    assertEquals(big, RunEventCodec.decode(stored).event());

    // Another process's watcher receives the reference and reads the event from the table.
    AssertSubscriber<RunEvent> watcher =
        hub.watch(
                run,
                () ->
                    List.of(
                        new RunEvent.StatusChanged(
                            run, 1, RunEventHub.now(), RunStatus.RUNNING, "")))
            .subscribe()
            .withSubscriber(AssertSubscriber.create(10));
    relay.received(RunEventCodec.reference("trainer@elsewhere/1/x", big, id));
    watcher.awaitItems(2, Duration.ofSeconds(5));
    assertEquals(big, watcher.getItems().get(1));
    watcher.cancel();
  }
}
