package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.experiments.RunStatus;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The hub keeps a run's live stream only until the retention after it ended. */
class RunEventHubTest {

  @Test
  void aStreamIsDroppedOnceItsRunEndedLongerAgoThanTheRetention() {
    RunEventHub hub = new RunEventHub(Duration.ZERO);
    hub.status(1, RunStatus.QUEUED, "");
    hub.status(1, RunStatus.RUNNING, "");
    assertTrue(hub.knows(1)); // running: kept whatever the retention
    hub.status(1, RunStatus.SUCCEEDED, "");
    assertFalse(hub.knows(1));

    // A watcher afterwards gets the history from the store instead.
    List<RunEvent> history =
        List.of(new RunEvent.StatusChanged(1, 1, RunEventHub.now(), RunStatus.SUCCEEDED, ""));
    List<RunEvent> seen =
        hub.watch(1, () -> history).collect().asList().await().atMost(Duration.ofSeconds(5));
    assertEquals(history, seen);
  }

  @Test
  void aStreamIsKeptWithinTheRetentionAndAResumedRunReopensIt() {
    RunEventHub hub = new RunEventHub(Duration.ofMinutes(10));
    hub.status(2, RunStatus.QUEUED, "");
    hub.status(2, RunStatus.FAILED, "boom");
    assertTrue(hub.knows(2));
    hub.status(2, RunStatus.QUEUED, "resumed");
    hub.evictEnded();
    assertTrue(hub.knows(2));
  }
}
