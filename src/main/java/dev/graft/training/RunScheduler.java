package dev.graft.training;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.graft.bus.Bus;
import dev.graft.core.DatabaseConfig;
import dev.graft.core.RoleConfig;
import dev.graft.core.ServiceRole;
import dev.graft.core.StorageConfig;
import dev.graft.experiments.RunStatus;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * The trainer side of the run queue. The queue is the run table, shared by every trainer process: a
 * loop claims the oldest QUEUED run it has a free device slot for ({@code SELECT ... FOR UPDATE
 * SKIP LOCKED}, {@link RunStore#claimNext}), a heartbeat renews the lease of every run it trains
 * and reads cancel requests, and every poll sweeps runs whose lease expired (their trainer died):
 * INTERRUPTED, then QUEUED again while attempts &lt; max_attempts. Roles that do not train (api,
 * inference) run none of this.
 */
@ApplicationScoped
public class RunScheduler {

  private static final Logger LOG = Logger.getLogger(RunScheduler.class);

  /** A run this process trains: its stop token and lease. */
  private record Active(CancelToken token, RunStore.Lease lease) {}

  private final Bus bus;
  private final RunStore store;
  private final RunEventHub events;
  private final TrainingJob job;
  private final TrainingConfig config;
  private final ExecutorService workers;
  private final DeviceSlots slots;
  private final String dataDir;
  private final StorageConfig storage;
  private final ServiceRole role;
  private final boolean ownsDatabase;
  private final String owner;
  private final Map<Long, Active> active = new ConcurrentHashMap<>();

  /**
   * With {@link #ownsDatabase}: the runs queued through this process (or found QUEUED at start),
   * the only ones it claims, as before the queue was shared; null otherwise (every QUEUED run).
   */
  private final java.util.Set<Long> submitted;

  private final Object wake = new Object();
  private boolean woken;
  private volatile boolean stopping;
  private Thread queueLoop;
  private ScheduledExecutorService heartbeat;

  RunScheduler(
      RunStore store,
      RunEventHub events,
      TrainingJob job,
      TrainingConfig config,
      StorageConfig storage,
      RoleConfig roles,
      DatabaseConfig database,
      Bus bus) {
    this.bus = bus;
    this.store = store;
    this.storage = storage;
    this.dataDir = storage.dir().toAbsolutePath().normalize().toString();
    this.events = events;
    this.job = job;
    this.config = config;
    this.role = roles.role();
    // The all-in-one service on its embedded database: nobody else uses this database.
    this.ownsDatabase = role == ServiceRole.ALL && database.embeddedEnabled();
    this.owner = owner(role);
    this.submitted = ownsDatabase ? new java.util.concurrent.ConcurrentSkipListSet<>() : null;
    this.slots = new DeviceSlots(config.maxConcurrentCpuRuns(), config.maxConcurrentGpuRuns());
    AtomicInteger n = new AtomicInteger();
    this.workers =
        Executors.newFixedThreadPool(
            DeviceSlots.threads(config.maxConcurrentCpuRuns(), config.maxConcurrentGpuRuns()),
            r -> {
              Thread t = new Thread(r, "graft-training-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /** {@code <role>@<host>/<pid>}: who holds a lease, as runs record it. */
  static String owner(ServiceRole role) {
    String host = System.getenv("HOSTNAME");
    if (host == null || host.isBlank()) {
      try {
        host = InetAddress.getLocalHost().getHostName();
      } catch (Exception e) {
        host = "unknown-host";
      }
    }
    return role.name().toLowerCase(Locale.ROOT) + "@" + host + "/" + ProcessHandle.current().pid();
  }

  /** This process's name as the owner of the runs it trains. */
  public String ownerName() {
    return owner;
  }

  /** After the database is up (priority after DatabaseStartup's). */
  void onStart(@Observes @Priority(10) StartupEvent event) {
    if (!role.trains()) {
      return; // api and inference never claim, sweep or train
    }
    // A run queued by any process wakes the queue loop at once (polling stays the safety net).
    bus.subscribe(Bus.RUN_QUEUE, id -> wake());
    if (ownsDatabase) {
      // Every RUNNING run is a previous incarnation's: INTERRUPTED at once, as before leases
      // existed; ResumeRun continues it (the all-in-one service does not resume by itself).
      for (long id : store.interruptRunning()) {
        LOG.warnf("Run %d was interrupted by a stop of the service; ResumeRun continues it", id);
        // Its stream, rebuilt from the store, already ends with the INTERRUPTED status.
        events.adopt(id, () -> Runs.history(store.view(id), store.statusChanges(id)));
      }
    }
    for (long id : store.queued()) {
      events.adopt(id, () -> Runs.history(store.view(id), store.statusChanges(id)));
      submit(id);
    }
    heartbeat =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "graft-run-heartbeat");
              t.setDaemon(true);
              return t;
            });
    long beat = Math.max(50, config.heartbeatInterval().toMillis());
    heartbeat.scheduleWithFixedDelay(this::heartbeat, beat, beat, TimeUnit.MILLISECONDS);
    queueLoop = new Thread(this::queueLoop, "graft-run-queue");
    queueLoop.setDaemon(true);
    queueLoop.start();
    LOG.infof(
        "Trainer %s: lease %s, heartbeat %s, poll %s, auto-resume attempts %d",
        owner,
        config.leaseDuration(),
        config.heartbeatInterval(),
        config.pollInterval(),
        config.autoResumeAttempts());
  }

  /**
   * SIGTERM (before the embedded database stops): stop claiming, stop every running job at its next
   * batch; each ends INTERRUPTED at its last checkpoint and, when it may be resumed and the
   * database is shared, QUEUED again with the lease released, so that another trainer takes it at
   * once. Bounded by {@code graft.training.shutdown-timeout}: a job still running then is released
   * anyway (its lease is revoked, so it writes nothing more).
   */
  void onStop(@Observes @Priority(1) ShutdownEvent event) {
    stopping = true;
    wake();
    active.values().forEach(a -> a.token().stop(CancelToken.Reason.SHUTDOWN));
    workers.shutdown();
    try {
      if (!workers.awaitTermination(config.shutdownTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
        for (Map.Entry<Long, Active> e : active.entrySet()) {
          long id = e.getKey();
          LOG.warnf("Run %d did not stop within %s; releasing it", id, config.shutdownTimeout());
          store.revoke(id);
          endForShutdown(id, e.getValue().lease());
        }
        workers.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      LOG.warnf(e, "Releasing runs at shutdown failed; their leases expire instead");
    }
    if (heartbeat != null) {
      heartbeat.shutdownNow();
    }
  }

  /**
   * A run was queued (StartRun, ResumeRun) in this process: the queue loop wakes at once. Trainers
   * of other processes see it at their next poll.
   */
  public void submit(long runId) {
    if (submitted != null) {
      submitted.add(runId);
    }
    wake();
  }

  /** Wakes the queue loop. No-op in roles that do not train. */
  public void wake() {
    synchronized (wake) {
      woken = true;
      wake.notifyAll();
    }
  }

  /** Asks a run trained here to stop after its current batch; true if it was running here. */
  public boolean cancel(long runId) {
    Active a = active.get(runId);
    if (a == null) {
      return false;
    }
    a.token().cancel();
    return true;
  }

  private void queueLoop() {
    long poll = Math.max(50, config.pollInterval().toMillis());
    while (!stopping) {
      try {
        sweep();
        while (!stopping && claimOne()) {
          // claim while slots are free
        }
      } catch (RuntimeException e) {
        LOG.warnf("The run queue could not be read (%s); trying again in %d ms", e, poll);
      }
      synchronized (wake) {
        if (!woken && !stopping) {
          try {
            wake.wait(poll);
          } catch (InterruptedException e) {
            return;
          }
        }
        woken = false;
      }
    }
  }

  /** Runs whose trainer stopped renewing: INTERRUPTED, then QUEUED again if they may. */
  private void sweep() {
    if (!ownsDatabase) { // else no other process: its runs were interrupted at start
      sweep(null);
    }
  }

  /** The sweep, limited to {@code only} unless null; returns the runs it ended. */
  List<RunStore.Expired> sweep(java.util.Collection<Long> only) {
    List<RunStore.Expired> expired = store.expireLeases(active.keySet(), only);
    for (RunStore.Expired x : expired) {
      LOG.warnf("Run %d: %s", x.id(), x.message());
      events.adopt(x.id(), () -> Runs.history(store.view(x.id()), store.statusChanges(x.id())));
      events.status(x.id(), x.endedAs(), x.message());
      if (x.endedAs() == RunStatus.INTERRUPTED) {
        autoResume(x.id(), x.attempts(), x.maxAttempts(), x.message());
      }
    }
    return expired;
  }

  /** Whether a job of this process trains the run now. */
  boolean trainsHere(long runId) {
    return active.containsKey(runId);
  }

  /** The ResumeRun path, done by the queue itself: the run continues from its checkpoint. */
  private void autoResume(long id, int attempts, int maxAttempts, String after) {
    if (attempts >= maxAttempts) {
      LOG.infof(
          "Run %d stays INTERRUPTED: %d of %d attempts used; ResumeRun continues it",
          id, attempts, maxAttempts);
      return;
    }
    // Without a checkpoint (stopped before its first epoch) the run starts over: its epochs are
    // recorded again, replacing any earlier values of the same epoch.
    if (store.requeueInterrupted(id)) {
      String message =
          "resumed automatically after "
              + after
              + ", attempt "
              + (attempts + 1)
              + " of "
              + maxAttempts
              + (new Checkpoint(runDir(id)).present() ? "" : " (no checkpoint yet: starts over)");
      LOG.infof("Run %d %s", id, message);
      events.status(id, RunStatus.QUEUED, message);
      wake();
    }
  }

  private java.nio.file.Path runDir(long id) {
    return storage.area("runs").resolve(String.valueOf(id));
  }

  /** Claims one run if a slot is free and one is queued; true if it did. */
  private boolean claimOne() {
    int gpus = Engine.getInstance().getGpuCount();
    DeviceSlots.Slot cpu = slots.tryAcquire(Device.cpu());
    DeviceSlots.Slot gpu = gpus > 0 ? slots.tryAcquire(Device.gpu(0)) : null;
    List<String> devices = new ArrayList<>();
    if (cpu != null) {
      devices.add("CPU");
    }
    if (gpu != null) {
      devices.add("GPU");
    }
    if (gpus > 0 ? gpu != null : cpu != null) {
      devices.add("AUTO"); // AUTO trains on the GPU when there is one
    }
    Optional<RunStore.Claim> found = Optional.empty();
    try {
      found = store.claimNext(owner, config.leaseDuration(), devices, active.keySet(), submitted);
    } finally {
      if (found.isEmpty()) {
        close(cpu);
        close(gpu);
      }
    }
    if (found.isEmpty()) {
      return false;
    }
    RunStore.Claim claim = found.get();
    long id = claim.id();
    if (submitted != null) {
      submitted.remove(id);
    }
    boolean onGpu = DeviceSelector.select(store.view(id).spec().device(), gpus).isGpu();
    DeviceSlots.Slot slot = onGpu ? gpu : cpu;
    close(onGpu ? cpu : gpu);
    CancelToken token = new CancelToken();
    active.put(id, new Active(token, claim.lease()));
    LOG.infof("Run %d claimed by %s (attempt %d)", id, owner, claim.lease().attempt());
    try {
      workers.submit(() -> execute(id, token, claim.lease(), slot));
    } catch (RuntimeException e) { // stopping: the lease expires and another trainer takes it
      active.remove(id);
      store.forget(id);
      close(slot);
      throw e;
    }
    return true;
  }

  private static void close(DeviceSlots.Slot s) {
    if (s != null) {
      s.close();
    }
  }

  /** Renews the lease of every run trained here; stops the ones cancelled or taken over. */
  private void heartbeat() {
    for (Map.Entry<Long, Active> e : active.entrySet()) {
      long id = e.getKey();
      try {
        switch (store.renew(id, e.getValue().lease(), config.leaseDuration())) {
          case LOST -> {
            LOG.warnf("Run %d: %s lost its lease; the job stops without writing", id, owner);
            e.getValue().token().stop(CancelToken.Reason.LEASE_LOST);
          }
          case CANCEL_REQUESTED -> e.getValue().token().cancel();
          case RENEWED -> {}
        }
      } catch (RuntimeException ex) {
        // The database is unreachable: the lease runs out unless the next beat gets through.
        LOG.warnf("Run %d: the lease could not be renewed (%s)", id, ex);
      }
    }
  }

  private void execute(long runId, CancelToken token, RunStore.Lease lease, DeviceSlots.Slot slot) {
    try {
      events.adopt(runId, () -> Runs.history(store.view(runId), store.statusChanges(runId)));
      events.status(runId, RunStatus.RUNNING, "");
      job.run(runId, token); // its last step publishes the run SUCCEEDED (RunPublisher)
      events.status(runId, RunStatus.SUCCEEDED, "");
    } catch (CancelToken.Cancelled c) {
      CancelToken.Reason reason = token.reason() != null ? token.reason() : c.reason();
      if (c.reason() == CancelToken.Reason.LEASE_LOST) {
        reason = CancelToken.Reason.LEASE_LOST;
      }
      stopped(runId, lease, reason);
    } catch (Throwable t) {
      if (token.reason() == CancelToken.Reason.LEASE_LOST) {
        stopped(runId, lease, CancelToken.Reason.LEASE_LOST);
        return;
      }
      String message = describe(t, dataDir);
      LOG.errorf(t, "Run %d failed: %s", runId, message);
      try {
        store.finish(runId, RunStatus.FAILED, message);
        events.status(runId, RunStatus.FAILED, message);
      } catch (CancelToken.Cancelled lost) {
        LOG.warnf("Run %d failed after %s lost its lease; nothing recorded", runId, owner);
      }
    } finally {
      close(slot);
      active.remove(runId);
      store.forget(runId);
      if (!stopping) {
        wake(); // a slot is free
      }
    }
  }

  private void stopped(long runId, RunStore.Lease lease, CancelToken.Reason reason) {
    try {
      switch (reason) {
        case LEASE_LOST ->
            LOG.warnf("Run %d stopped: %s lost its lease, another trainer has it", runId, owner);
        case SHUTDOWN -> endForShutdown(runId, lease);
        case CANCELLED -> {
          String why = "cancelled by CancelRun";
          store.finish(runId, RunStatus.CANCELLED, why);
          events.status(runId, RunStatus.CANCELLED, why);
        }
      }
    } catch (CancelToken.Cancelled lost) {
      LOG.warnf("Run %d: %s lost its lease before recording its end", runId, owner);
    }
  }

  /** INTERRUPTED at the last checkpoint, lease released; QUEUED again if attempts allow. */
  private void endForShutdown(long runId, RunStore.Lease lease) {
    String why =
        ownsDatabase
            ? "the service stopped; ResumeRun continues"
            : "trainer " + owner + " stopped (SIGTERM)";
    Optional<int[]> attempts = store.interruptOwned(runId, lease, why);
    if (attempts.isEmpty()) {
      return; // taken over meanwhile
    }
    events.status(runId, RunStatus.INTERRUPTED, why);
    if (!ownsDatabase) {
      // Another trainer resumes it at its next poll, not after the lease would have expired.
      autoResume(runId, attempts.get()[0], attempts.get()[1], why);
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

  /** The configured lease, for tests. */
  Duration leaseDuration() {
    return config.leaseDuration();
  }
}
