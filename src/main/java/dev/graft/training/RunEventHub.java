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
 */
@ApplicationScoped
public class RunEventHub {

  private static final org.jboss.logging.Logger LOG =
      org.jboss.logging.Logger.getLogger(RunEventHub.class);

  private final Map<Long, Channel> channels = new ConcurrentHashMap<>();
  private final long retentionNanos;

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
    return published;
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

  private static final class Channel {
    private final List<RunEvent> history = new ArrayList<>();
    private final List<MultiEmitter<? super RunEvent>> watchers = new ArrayList<>();
    private long sequence;
    private boolean ended;
    private long endedAtNanos;

    Channel(List<RunEvent> past) {
      for (RunEvent e : past) {
        append(e);
      }
    }

    synchronized RunEvent publish(LongFunction<RunEvent> factory) {
      RunEvent event = factory.apply(++sequence);
      append(event);
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
