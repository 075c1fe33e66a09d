package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.experiments.RunStatus;
import io.smallrye.mutiny.helpers.test.AssertSubscriber;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Run events between processes: the notification payload's round trip, and how the hub of a
 * watching process takes events of others (their sequence numbers kept, duplicates dropped, the
 * store's catch-up).
 */
class CrossProcessEventsTest {

  private static final Instant T = Instant.parse("2026-12-03T18:00:00.123456Z");

  static List<RunEvent> everyKind(long run) {
    TrainingPlan plan =
        new TrainingPlan(
            4,
            10,
            40,
            320,
            0.003,
            "default",
            "cosine",
            1,
            0,
            true,
            3,
            "sgd",
            0.01,
            List.of(new TrainingPlan.L2Point(0.01, 0.9, 0.3, 12)),
            List.of("linear-probe", "fine-tune"),
            "small data",
            new TrainingPlan.FeatureCache("ort", "CPU", "auto", 8, 1e-6, 1e-4, "", 320, 1.5));
    return List.of(
        new RunEvent.StatusChanged(run, 1, T, RunStatus.QUEUED, ""),
        new RunEvent.PlanChosen(run, 2, T, plan),
        new RunEvent.PhaseStarted(run, 3, T, "linear-probe", "solver"),
        new RunEvent.Progress(run, 4, T, 1, 4, 3, 10, 123.5, 7.25, 0.69),
        new RunEvent.EpochEnded(run, 5, T, 1, Map.of("val_accuracy", 0.75, "train_loss", 0.5)),
        new RunEvent.Exported(run, 6, T, "digits:1", "abc123", 1e-7, true),
        new RunEvent.StatusChanged(run, 7, T, RunStatus.FAILED, "IllegalStateException: \"x\""));
  }

  @Test
  void everyEventSurvivesTheNotificationPayload() {
    for (RunEvent e : everyKind(42)) {
      String payload = RunEventCodec.encode("trainer@host/7/abcd", e);
      assertTrue(payload.getBytes(StandardCharsets.UTF_8).length < RunEventCodec.MAX_NOTIFY_BYTES);
      RunEventCodec.Envelope back = RunEventCodec.decode(payload);
      assertEquals("trainer@host/7/abcd", back.origin());
      assertEquals(42, back.runId());
      assertEquals(e.sequence(), back.sequence());
      assertEquals(e, back.event(), payload);
    }
  }

  @Test
  void aLargeEventTravelsAsAReference() {
    RunEvent big = new RunEvent.PhaseStarted(3, 9, T, "fine-tune", "x".repeat(10_000));
    assertTrue(
        RunEventCodec.encode("o", big).getBytes(StandardCharsets.UTF_8).length
            > RunEventCodec.MAX_NOTIFY_BYTES);
    String ref = RunEventCodec.reference("o", big, 77);
    assertTrue(ref.length() < 200, ref);
    RunEventCodec.Envelope back = RunEventCodec.decode(ref);
    assertNull(back.event());
    assertEquals(77, back.ref());
    assertEquals(9, back.sequence());
    assertEquals(3, back.runId());
  }

  @Test
  void aWatcherOfAnotherProcesssRunGetsHistoryThenItsLiveEventsWithTheirSequence() {
    RunEventHub hub = new RunEventHub(Duration.ofMinutes(10));
    List<RunEvent> published = new ArrayList<>();
    hub.relayTo(published::add);
    // The store's history as the api process rebuilds it: QUEUED, RUNNING, epoch 1.
    List<RunEvent> stored =
        List.of(
            new RunEvent.StatusChanged(5, 1, T, RunStatus.QUEUED, ""),
            new RunEvent.StatusChanged(5, 2, T, RunStatus.RUNNING, ""),
            new RunEvent.EpochEnded(5, 3, T, 1, Map.of("val_accuracy", 0.5)));
    AssertSubscriber<RunEvent> watcher =
        hub.watch(5, () -> stored).subscribe().withSubscriber(AssertSubscriber.create(100));
    assertFalse(hub.receive("trainer", new RunEvent.Progress(99, 1, T, 1, 2, 1, 4, 1, 1, 1)));

    String trainer = "trainer@t/1/x";
    // The trainer's own numbering: epoch 1 ended at its sequence 20 (already in the store).
    assertFalse(hub.receive(trainer, new RunEvent.EpochEnded(5, 20, T, 1, Map.of())));
    assertTrue(hub.receive(trainer, new RunEvent.Progress(5, 21, T, 2, 2, 1, 4, 10, 3, 0.4)));
    assertFalse(hub.receive(trainer, new RunEvent.Progress(5, 21, T, 2, 2, 1, 4, 10, 3, 0.4)));
    assertFalse(hub.receive(trainer, new RunEvent.Progress(5, 19, T, 2, 2, 1, 4, 10, 3, 0.4)));
    assertFalse(hub.receive(trainer, new RunEvent.StatusChanged(5, 22, T, RunStatus.RUNNING, "")));
    assertTrue(hub.receive(trainer, new RunEvent.EpochEnded(5, 23, T, 2, Map.of())));
    assertTrue(hub.receive(trainer, new RunEvent.StatusChanged(5, 24, T, RunStatus.SUCCEEDED, "")));
    // Late, after the end: dropped.
    assertFalse(hub.receive(trainer, new RunEvent.Progress(5, 25, T, 2, 2, 4, 4, 10, 0, 0.3)));

    watcher.awaitCompletion(Duration.ofSeconds(5));
    List<RunEvent> seen = watcher.getItems();
    assertEquals(
        List.of(1L, 2L, 3L, 21L, 23L, 24L), seen.stream().map(RunEvent::sequence).toList());
    assertEquals(
        RunStatus.SUCCEEDED, ((RunEvent.StatusChanged) seen.get(seen.size() - 1)).status());
    assertTrue(published.isEmpty(), "received events are not relayed again: " + published);
  }

  @Test
  void ownEventsAreRelayedAndLocalNumberingContinuesAfterRemoteOnes() {
    RunEventHub hub = new RunEventHub(Duration.ofMinutes(10));
    List<RunEvent> published = new ArrayList<>();
    hub.relayTo(published::add);
    hub.status(8, RunStatus.QUEUED, ""); // queued here (api), seq 1
    assertTrue(hub.receive("trainer", new RunEvent.StatusChanged(8, 1, T, RunStatus.RUNNING, "")));
    assertTrue(hub.receive("trainer", new RunEvent.Progress(8, 2, T, 1, 1, 1, 2, 1, 1, 1)));
    RunEvent cancelled = hub.status(8, RunStatus.CANCELLED, "cancelled by CancelRun");
    assertEquals(3, cancelled.sequence());
    assertEquals(List.of(1L, 3L), published.stream().map(RunEvent::sequence).toList());
  }

  @Test
  void aQuietWatchedRunIsCaughtUpFromTheStore() throws Exception {
    RunEventHub hub = new RunEventHub(Duration.ofMinutes(10));
    List<RunEvent> stored =
        List.of(
            new RunEvent.StatusChanged(6, 1, T, RunStatus.QUEUED, ""),
            new RunEvent.StatusChanged(6, 2, T, RunStatus.RUNNING, ""));
    AssertSubscriber<RunEvent> watcher =
        hub.watch(6, () -> stored).subscribe().withSubscriber(AssertSubscriber.create(100));
    assertTrue(hub.receive("trainer", new RunEvent.EpochEnded(6, 30, T, 1, Map.of())));
    assertEquals(List.of(), hub.quietWatchedRuns(Duration.ofMinutes(1)));
    Thread.sleep(5);
    assertEquals(List.of(6L), hub.quietWatchedRuns(Duration.ofMillis(1)));

    // The notifications of epoch 2, the export and the end were lost; the store has them.
    List<RunEvent> rebuilt =
        List.of(
            new RunEvent.StatusChanged(6, 1, T, RunStatus.QUEUED, ""),
            new RunEvent.StatusChanged(6, 2, T, RunStatus.RUNNING, ""),
            new RunEvent.EpochEnded(6, 3, T, 1, Map.of()),
            new RunEvent.EpochEnded(6, 4, T, 2, Map.of()),
            new RunEvent.Exported(6, 5, T, "m:1", "s", 0, true),
            new RunEvent.StatusChanged(6, 6, T, RunStatus.SUCCEEDED, ""));
    hub.catchUp(6, rebuilt);
    hub.catchUp(6, rebuilt); // twice: nothing more
    watcher.awaitCompletion(Duration.ofSeconds(5));
    List<RunEvent> seen = watcher.getItems();
    assertEquals(
        List.of(1L, 2L, 30L, 31L, 32L, 33L), seen.stream().map(RunEvent::sequence).toList());
    assertTrue(seen.get(3) instanceof RunEvent.EpochEnded e && e.epoch() == 2, seen.toString());
    assertTrue(seen.get(4) instanceof RunEvent.Exported, seen.toString());
    assertEquals(RunStatus.SUCCEEDED, ((RunEvent.StatusChanged) seen.get(5)).status());
    assertEquals(List.of(), hub.quietWatchedRuns(Duration.ZERO));
  }
}
