package dev.graft.training;

import ai.djl.engine.Engine;
import dev.graft.core.GraftException;
import dev.graft.core.RoleConfig;
import dev.graft.core.ServiceRole;
import dev.graft.core.StorageConfig;
import dev.graft.data.Dataset;
import dev.graft.experiments.Experiments;
import dev.graft.experiments.RunStatus;
import dev.graft.model.Architectures;
import dev.graft.model.BaseModel;
import dev.graft.model.BaseModels;
import io.smallrye.mutiny.Multi;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Starting, watching, cancelling, resuming and listing runs. */
@ApplicationScoped
public class Runs {

  private final RunStore store;
  private final RunScheduler scheduler;
  private final RunEventHub events;
  private final TrainingJob job;
  private final Experiments experiments;
  private final StorageConfig storage;
  private final BaseModels baseModels;
  private final ModelFactory factory;
  private final TrainingConfig config;
  private final ServiceRole role;

  Runs(
      RunStore store,
      RunScheduler scheduler,
      RunEventHub events,
      TrainingJob job,
      Experiments experiments,
      StorageConfig storage,
      BaseModels baseModels,
      ModelFactory factory,
      TrainingConfig config,
      RoleConfig roles) {
    this.config = config;
    this.role = roles.role();
    this.baseModels = baseModels;
    this.factory = factory;
    this.store = store;
    this.scheduler = scheduler;
    this.events = events;
    this.job = job;
    this.experiments = experiments;
    this.storage = storage;
  }

  /**
   * Checks everything a run needs before it is queued — so that a bad request fails now, not in the
   * background — then queues it.
   */
  public RunView start(RunSpec requested) {
    return start(requested, 0);
  }

  /**
   * {@link #start(RunSpec)} with the most claims the run may get through automatic resumes ({@code
   * 0}: {@code graft.training.auto-resume-attempts}).
   */
  public RunView start(RunSpec requested, int maxAttempts) {
    if (maxAttempts < 0) {
      throw new GraftException.InvalidArgument(
          "max_attempts "
              + maxAttempts
              + " is negative; give the most attempts (1 = no automatic resume), or 0 for the"
              + " server default ("
              + config.autoResumeAttempts()
              + ")");
    }
    RunSpec spec =
        (requested.strategy() != Strategy.PRETRAINING
                    && requested.baseModel() != null
                    && factory.isTextModel(requested.baseModel())
                ? ModelFactory.textDefaults(requested)
                : requested)
            .withDefaults()
            .validate();
    if (spec.strategy() == Strategy.PRETRAINING) {
      Architectures.get(spec.architecture());
      if (baseModels.exists(spec.modelName())) {
        throw new GraftException.AlreadyExists(
            "a base model named '" + spec.modelName() + "' already exists; choose another name");
      }
    }
    experiments.get(spec.experimentId()); // NOT_FOUND for an unknown experiment
    Dataset dataset = store.dataset(spec.dataset());
    if (dataset.classNames.size() < 2) {
      throw new GraftException.FailedPrecondition(
          "dataset '"
              + dataset.name
              + "' has "
              + dataset.classNames.size()
              + " class; a classifier needs at least 2");
    }
    Long baseModelId = null;
    Long parentRunId = null;
    if (spec.strategy() != Strategy.PRETRAINING) {
      BaseModel base = store.baseModel(spec.baseModel());
      baseModelId = base.id;
      parentRunId = base.pretrainRunId;
      factory.preflight(spec, dataset);
      spec = spec.withCutPoint(factory.canonicalCutPoint(spec));
    }
    // A process that trains checks the device against its own GPUs; an api process cannot know
    // which trainers there are and checks only the value.
    DeviceSelector.select(
        spec.device(), role.trains() ? Engine.getInstance().getGpuCount() : Integer.MAX_VALUE);
    long id =
        store.createQueued(
            spec,
            baseModelId,
            dataset.id,
            parentRunId,
            job.queuedVersions(),
            maxAttempts == 0 ? config.autoResumeAttempts() : maxAttempts);
    events.status(id, RunStatus.QUEUED, "");
    RunView queued = store.view(id);
    scheduler.submit(id);
    return queued;
  }

  public RunView get(long runId) {
    return store.view(runId);
  }

  public RunStore.RunPage list(long experimentId, RunStatus status, int pageSize, String token) {
    if (experimentId < 0) {
      throw new GraftException.InvalidArgument(
          "experiment_id " + experimentId + " is negative; give an experiment's id, or 0 for all");
    }
    return store.list(experimentId, status, pageSize, token);
  }

  /** Stops a queued or running run; a run already ended is a FAILED_PRECONDITION. */
  public RunView cancel(long runId) {
    RunStatus status = store.status(runId);
    if (status.isFinal()) {
      throw new GraftException.FailedPrecondition(
          "run " + runId + " already ended " + status + "; nothing to cancel");
    }
    boolean here = scheduler.cancel(runId);
    String why = "cancelled by CancelRun";
    if (status == RunStatus.QUEUED && store.cancelQueued(runId, why)) {
      events.status(runId, RunStatus.CANCELLED, why);
    } else if (!here && store.requestCancel(runId, why)) {
      // RUNNING with an expired lease: no trainer would ever end it. A live owner (another
      // process, or one that claimed it since it was QUEUED) reads the request at its next
      // heartbeat and ends it CANCELLED after its current batch.
      events.status(runId, RunStatus.CANCELLED, why);
    }
    return store.view(runId);
  }

  /** Continues a run from its last checkpoint, with its stored configuration and split. */
  public RunView resume(long runId) {
    RunStatus status = store.status(runId);
    if (status == RunStatus.SUCCEEDED || !status.isFinal()) {
      throw new GraftException.FailedPrecondition(
          "run " + runId + " is " + status + "; only INTERRUPTED, FAILED or CANCELLED runs resume");
    }
    if (!new Checkpoint(storage.area("runs").resolve(String.valueOf(runId))).exists()) {
      throw new GraftException.FailedPrecondition(
          "run " + runId + " has no checkpoint (it ended before its first epoch); start a new run");
    }
    RunView before = store.view(runId);
    events.adopt(runId, () -> history(before, store.statusChanges(runId)));
    store.requeue(runId);
    events.status(runId, RunStatus.QUEUED, "resumed");
    scheduler.submit(runId);
    return store.view(runId);
  }

  /** The run's events so far, then live ones until it ends. */
  public Multi<RunEvent> watch(long runId) {
    RunView view = store.view(runId); // NOT_FOUND before subscribing
    return events.watch(runId, () -> history(view, store.statusChanges(runId)));
  }

  /**
   * Events reconstructed from the store, for runs this process has not seen: every recorded status
   * change in order, with the epochs and the export before the final status (a run still under way
   * gets them after its last change).
   */
  static List<RunEvent> history(RunView run, List<RunStore.StatusChange> changes) {
    if (changes.isEmpty()) {
      changes = List.of(new RunStore.StatusChange(RunStatus.QUEUED, "", run.createdAt()));
    }
    RunStore.StatusChange last = changes.get(changes.size() - 1);
    boolean ended = last.status().isFinal();
    List<RunEvent> past = new ArrayList<>();
    long seq = 0;
    for (RunStore.StatusChange c : ended ? changes.subList(0, changes.size() - 1) : changes) {
      past.add(new RunEvent.StatusChanged(run.id(), ++seq, c.at(), c.status(), c.message()));
    }
    Map<Integer, Map<String, Double>> byEpoch = new LinkedHashMap<>();
    for (RunView.EpochValue v : run.metrics()) {
      byEpoch.computeIfAbsent(v.epoch(), e -> new LinkedHashMap<>()).put(v.key(), v.value());
    }
    Instant when = run.startedAt() == null ? run.createdAt() : run.startedAt();
    if (run.plan() != null) {
      past.add(new RunEvent.PlanChosen(run.id(), ++seq, when, run.plan()));
    }
    for (Map.Entry<Integer, Map<String, Double>> e : byEpoch.entrySet()) {
      past.add(new RunEvent.EpochEnded(run.id(), ++seq, when, e.getKey(), e.getValue()));
    }
    if (!run.modelVersion().isEmpty()) {
      past.add(
          new RunEvent.Exported(
              run.id(),
              ++seq,
              when,
              run.modelVersion(),
              run.onnxSha256(),
              run.parityMaxAbsDiff(),
              true));
    }
    if (ended) {
      String message =
          last.message().isEmpty() && run.error() != null ? run.error() : last.message();
      past.add(new RunEvent.StatusChanged(run.id(), ++seq, last.at(), last.status(), message));
    }
    return past;
  }
}
