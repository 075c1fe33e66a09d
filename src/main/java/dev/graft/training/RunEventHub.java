package dev.graft.training;

import dev.graft.experiments.RunStatus;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.MultiEmitter;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongFunction;

/**
 * The live event streams of runs in this process. A watcher first receives the run's history
 * (status changes, epochs, export, and only the latest progress event), then live events, and the
 * stream completes when the run reaches a final status. A stream is dropped {@code
 * graft.training.event-retention} after its run ended (watchers then get the history rebuilt from
 * the store), so that the hub holds only recent runs.
 *
 * <p>Across processes ({@link RunEventRelay}): every event published here is also handed to the
 * relay, which sends it through PostgreSQL; events that other processes published arrive through
 * {@link #receive} and reach the watchers of this process, with the sequence numbers their
 * publisher gave them. Duplicates are dropped: per publishing process by sequence, and against the
 * history rebuilt from the store (an epoch, an export, a status already there).
 */
@ApplicationScoped
public class RunEventHub {

  private static final org.jboss.logging.Logger LOG =
      org.jboss.logging.Logger.getLogger(RunEventHub.class);

  private final Map<Long, Channel> channels = new ConcurrentHashMap<>();
  private final long retentionNanos;
  private volatile java.util.function.Consumer<RunEvent> relay = e -> {};

  @jakarta.inject.Inject
  RunEventHub(TrainingConfig config) {
    this(config.eventRetention());
  }

  RunEventHub(java.time.Duration retention) {
    this.retentionNanos = retention.toNanos();
  }

  /** Publishes an event built with the next sequence number of the run. */
  public RunEvent publish(long runId, LongFunction<RunEvent> event) {
    RunEvent published = channel(runId).publish(event);
    evictEnded();
    try {
      relay.accept(published);
    } catch (RuntimeException e) {
      // Other processes then learn of it from the store (RunEventRelay's catch-up): never fail the
      // run that publishes.
      LOG.debugf(e, "Could not relay event %d of run %d", published.sequence(), runId);
    }
    return published;
  }

  /** Hands every event published here to {@code relay} too (to other processes). */
  public void relayTo(java.util.function.Consumer<RunEvent> relay) {
    this.relay = relay;
  }

  /**
   * An event that another process ({@code origin}) published. It reaches the run's stream here only
   * if this process has one (someone watches the run or it was queued here); a duplicate, or
   * anything but a status change after the stream ended, is dropped. True when it was delivered.
   */
  public boolean receive(String origin, RunEvent event) {
    Channel channel = channels.get(event.runId());
    return channel != null && channel.receive(origin, event);
  }

  /**
   * Events rebuilt from the store for a run whose publisher this process may not hear (an outage of
   * the listener, a process that died): those not yet in the stream are delivered with the stream's
   * next sequence numbers. Only epochs, exports and a final status are taken.
   */
  public void catchUp(long runId, List<RunEvent> rebuilt) {
    Channel channel = channels.get(runId);
    if (channel != null) {
      channel.catchUp(rebuilt);
    }
  }

  /**
   * Runs whose stream is open, watched, and has heard nothing for {@code quiet}: a watcher may be
   * waiting for events that only the store still has.
   */
  public List<Long> quietWatchedRuns(java.time.Duration quiet) {
    long before = System.nanoTime() - quiet.toNanos();
    List<Long> out = new ArrayList<>();
    channels.forEach(
        (id, c) -> {
          if (c.quietSince(before)) {
            out.add(id);
          }
        });
    return out;
  }

  /** Drops the streams of runs that ended more than the retention ago. */
  void evictEnded() {
    long now = System.nanoTime();
    channels.entrySet().removeIf(e -> e.getValue().endedBefore(now - retentionNanos));
  }

  public RunEvent status(long runId, RunStatus status, String message) {
    return publish(runId, seq -> new RunEvent.StatusChanged(runId, seq, now(), status, message));
  }

  /** Whether the hub has a stream for this run (it ran or was queued in this process). */
  public boolean knows(long runId) {
    return channels.containsKey(runId);
  }

  /**
   * Subscribes to a run. {@code history} supplies past events for a run this process has not seen
   * yet (it ended before a restart); it is used only then.
   */
  public Multi<RunEvent> watch(long runId, java.util.function.Supplier<List<RunEvent>> history) {
    evictEnded();
    return Multi.createFrom()
        .emitter(
            emitter -> {
              Channel channel = channels.get(runId);
              if (channel == null) {
                List<RunEvent> past = history.get();
                channel = channels.computeIfAbsent(runId, id -> new Channel(past));
              }
              channel.subscribe(emitter);
            });
  }

  /**
   * Gives the hub the stream of a run this process has not seen yet (one a previous process ran),
   * seeded with its {@code history}, so that watchers of a run interrupted or resumed after a
   * restart still get everything that happened before it.
   */
  public void adopt(long runId, java.util.function.Supplier<List<RunEvent>> history) {
    if (!channels.containsKey(runId)) {
      List<RunEvent> past = history.get();
      channels.computeIfAbsent(runId, id -> new Channel(past));
    }
  }

  private Channel channel(long runId) {
    return channels.computeIfAbsent(runId, id -> new Channel(List.of()));
  }

  static Instant now() {
    return Instant.now();
  }

  /** The same event with another sequence number. */
  static RunEvent resequenced(RunEvent e, long seq) {
    if (e instanceof RunEvent.StatusChanged s) {
      return new RunEvent.StatusChanged(s.runId(), seq, s.time(), s.status(), s.message());
    }
    if (e instanceof RunEvent.Progress p) {
      return new RunEvent.Progress(
          p.runId(),
          seq,
          p.time(),
          p.epoch(),
          p.epochs(),
          p.batchesDone(),
          p.batchesTotal(),
          p.examplesPerSecond(),
          p.etaSeconds(),
          p.trainLoss());
    }
    if (e instanceof RunEvent.EpochEnded x) {
      return new RunEvent.EpochEnded(x.runId(), seq, x.time(), x.epoch(), x.values());
    }
    if (e instanceof RunEvent.Exported x) {
      return new RunEvent.Exported(
          x.runId(),
          seq,
          x.time(),
          x.modelVersion(),
          x.sha256(),
          x.parityMaxAbsDiff(),
          x.parityPassed());
    }
    if (e instanceof RunEvent.PlanChosen x) {
      return new RunEvent.PlanChosen(x.runId(), seq, x.time(), x.plan());
    }
    RunEvent.PhaseStarted x = (RunEvent.PhaseStarted) e;
    return new RunEvent.PhaseStarted(x.runId(), seq, x.time(), x.phase(), x.detail());
  }

  private static final class Channel {
    private final List<RunEvent> history = new ArrayList<>();
    private final List<MultiEmitter<? super RunEvent>> watchers = new ArrayList<>();
    private final Map<String, Long> remoteSequences = new java.util.HashMap<>();
    private long sequence;
    private boolean ended;
    private long endedAtNanos;
    private long lastEventNanos = System.nanoTime();

    Channel(List<RunEvent> past) {
      for (RunEvent e : past) {
        append(e);
      }
    }

    synchronized RunEvent publish(LongFunction<RunEvent> factory) {
      return deliver(factory.apply(++sequence));
    }

    synchronized boolean receive(String origin, RunEvent event) {
      Long seen = remoteSequences.get(origin);
      if (seen != null && event.sequence() <= seen) {
        return false;
      }
      remoteSequences.put(origin, event.sequence());
      if (duplicate(event) || (ended && !(event instanceof RunEvent.StatusChanged))) {
        return false;
      }
      deliver(event);
      return true;
    }

    synchronized void catchUp(List<RunEvent> rebuilt) {
      for (RunEvent e : rebuilt) {
        boolean wanted =
            e instanceof RunEvent.EpochEnded
                || e instanceof RunEvent.Exported
                || (e instanceof RunEvent.StatusChanged s && s.status().isFinal());
        if (wanted && !ended && !duplicate(e)) {
          deliver(resequenced(e, ++sequence));
        }
      }
    }

    /** Already in the stream: the same status as the last, an epoch, export or plan seen. */
    private boolean duplicate(RunEvent event) {
      if (event instanceof RunEvent.StatusChanged s) {
        for (int i = history.size() - 1; i >= 0; i--) {
          if (history.get(i) instanceof RunEvent.StatusChanged last) {
            return last.status() == s.status();
          }
        }
        return false;
      }
      for (RunEvent h : history) {
        if (event instanceof RunEvent.EpochEnded e
            && h instanceof RunEvent.EpochEnded seen
            && seen.epoch() == e.epoch()) {
          return true;
        }
        if (event instanceof RunEvent.Exported e
            && h instanceof RunEvent.Exported seen
            && seen.modelVersion().equals(e.modelVersion())) {
          return true;
        }
        if (event instanceof RunEvent.PlanChosen e
            && h instanceof RunEvent.PlanChosen seen
            && seen.plan().equals(e.plan())) {
          return true;
        }
      }
      return false;
    }

    synchronized boolean quietSince(long nanos) {
      return !ended && !watchers.isEmpty() && lastEventNanos - nanos < 0;
    }

    private RunEvent deliver(RunEvent event) {
      append(event);
      lastEventNanos = System.nanoTime();
      // A copy: completing a watcher runs its termination callback, which unsubscribes it from
      // this very list (same thread, so the lock does not keep it out).
      List<MultiEmitter<? super RunEvent>> targets = List.copyOf(watchers);
      if (ended) {
        watchers.clear();
      }
      for (MultiEmitter<? super RunEvent> watcher : targets) {
        // A watcher that fails must neither stop the others nor fail the run that publishes.
        try {
          watcher.emit(event);
          if (ended) {
            watcher.complete();
          }
        } catch (RuntimeException e) {
          LOG.debugf(e, "Dropping a watcher of run %d that failed", event.runId());
          watchers.remove(watcher);
        }
      }
      return event;
    }

    private void append(RunEvent event) {
      sequence = Math.max(sequence, event.sequence());
      if (event instanceof RunEvent.Progress
          && !history.isEmpty()
          && history.get(history.size() - 1) instanceof RunEvent.Progress) {
        history.set(history.size() - 1, event);
      } else {
        history.add(event);
      }
      if (event instanceof RunEvent.StatusChanged s) {
        // A resumed run goes back to QUEUED: its stream reopens for new watchers.
        ended = s.status().isFinal();
        endedAtNanos = System.nanoTime();
      }
    }

    synchronized boolean endedBefore(long nanos) {
      return ended && endedAtNanos - nanos < 0;
    }

    synchronized void subscribe(MultiEmitter<? super RunEvent> emitter) {
      for (RunEvent e : history) {
        emitter.emit(e);
      }
      if (ended) {
        emitter.complete();
        return;
      }
      watchers.add(emitter);
      emitter.onTermination(() -> unsubscribe(emitter));
    }

    private synchronized void unsubscribe(MultiEmitter<? super RunEvent> emitter) {
      watchers.remove(emitter);
    }
  }
}
