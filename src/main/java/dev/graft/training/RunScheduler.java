package dev.graft.training;

import ai.djl.engine.Engine;
import dev.graft.core.StorageConfig;
import dev.graft.experiments.RunStatus;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Runs queued runs with bounded concurrency. The queue itself is the run table: at start-up runs
 * left RUNNING become INTERRUPTED and runs still QUEUED are scheduled again, in creation order.
 */
@ApplicationScoped
public class RunScheduler {

  private static final Logger LOG = Logger.getLogger(RunScheduler.class);

  private final RunStore store;
  private final RunEventHub events;
  private final TrainingJob job;
  private final ExecutorService workers;
  private final DeviceSlots slots;
  private final String dataDir;
  private final Map<Long, CancelToken> active = new ConcurrentHashMap<>();
  private volatile boolean stopping;

  RunScheduler(
      RunStore store,
      RunEventHub events,
      TrainingJob job,
      TrainingConfig config,
      StorageConfig storage) {
    this.store = store;
    this.dataDir = storage.dir().toAbsolutePath().normalize().toString();
    this.events = events;
    this.job = job;
    this.slots = new DeviceSlots(config.maxConcurrentCpuRuns(), config.maxConcurrentGpuRuns());
    AtomicInteger n = new AtomicInteger();
    // One queue, FIFO: runs start in the order they were queued, as slots of their device free up.
    this.workers =
        Executors.newFixedThreadPool(
            DeviceSlots.threads(config.maxConcurrentCpuRuns(), config.maxConcurrentGpuRuns()),
            r -> {
              Thread t = new Thread(r, "graft-training-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /** After the database is up (priority after DatabaseStartup's). */
  void onStart(@Observes @Priority(10) StartupEvent event) {
    for (long id : store.interruptRunning()) {
      LOG.warnf("Run %d was interrupted by a stop of the service; ResumeRun continues it", id);
      // Its stream, rebuilt from the store, already ends with the INTERRUPTED status.
      events.adopt(id, () -> Runs.history(store.view(id), store.statusChanges(id)));
    }
    for (long id : store.queued()) {
      events.adopt(id, () -> Runs.history(store.view(id), store.statusChanges(id)));
      submit(id);
    }
  }

  /** Before the embedded database stops: running runs end INTERRUPTED, resumable. */
  void onStop(@Observes @Priority(1) ShutdownEvent event) {
    stopping = true;
    active.values().forEach(CancelToken::cancel);
    workers.shutdownNow();
    try {
      workers.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Schedules a QUEUED run. */
  public void submit(long runId) {
    CancelToken token = new CancelToken();
    active.put(runId, token);
    workers.submit(() -> execute(runId, token));
  }

  /** Asks a running run to stop after its current batch; true if it was running here. */
  public boolean cancel(long runId) {
    CancelToken token = active.get(runId);
    if (token == null) {
      return false;
    }
    token.cancel();
    return true;
  }

  private void execute(long runId, CancelToken token) {
    DeviceSlots.Slot slot = null;
    try {
      if (token.isCancelled()) {
        return;
      }
      slot =
          slots.acquire(
              DeviceSelector.select(
                  store.view(runId).spec().device(), Engine.getInstance().getGpuCount()));
      if (token.isCancelled() || !store.claim(runId)) {
        return; // cancelled while queued
      }
      events.status(runId, RunStatus.RUNNING, "");
      job.run(runId, token); // its last step publishes the run SUCCEEDED (RunPublisher)
      events.status(runId, RunStatus.SUCCEEDED, "");
    } catch (CancelToken.Cancelled c) {
      RunStatus status = stopping ? RunStatus.INTERRUPTED : RunStatus.CANCELLED;
      String why = stopping ? "the service stopped; ResumeRun continues" : "cancelled by CancelRun";
      store.finish(runId, status, why);
      events.status(runId, status, why);
    } catch (InterruptedException e) {
      // Stopping while waiting for a slot: the run stays QUEUED and is scheduled at the next start.
      Thread.currentThread().interrupt();
    } catch (Throwable t) {
      String message = describe(t, dataDir);
      LOG.errorf(t, "Run %d failed: %s", runId, message);
      try {
        store.finish(runId, RunStatus.FAILED, message);
      } finally {
        events.status(runId, RunStatus.FAILED, message);
      }
    } finally {
      if (slot != null) {
        slot.close();
      }
      active.remove(runId);
    }
  }

  /**
   * The error a failed run records and clients read: the exception's type and message, with the
   * server's data directory written as {@code <data>} so that no server path leaks to callers.
   */
  static String describe(Throwable t, String dataDir) {
    String m = t.getMessage();
    if (m != null && !dataDir.isEmpty()) {
      m = m.replace(dataDir, "<data>");
    }
    return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }
}
