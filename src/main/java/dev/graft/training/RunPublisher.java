package dev.graft.training;

import dev.graft.experiments.RunStatus;
import dev.graft.model.BaseModels;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.model.NewModelVersion;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;

/**
 * Publishes a trained run in one transaction: model version, run summary, base model (for
 * pre-training), status SUCCEEDED, and last the alias {@code latest}. Either all of it commits or
 * none: a failure (or a kill) at any step leaves the run without a version, so no FAILED run is
 * ever served; ModelRegistry reacts to the alias only after the commit.
 *
 * <p>Idempotent by run id: a run that already has a version (one per run, a unique index) or a base
 * model keeps them instead of registering duplicates.
 */
@ApplicationScoped
public class RunPublisher {

  private final ModelVersions versions;
  private final BaseModels baseModels;
  private final RunStore store;
  private final PublishStep.Observer steps;

  RunPublisher(
      ModelVersions versions, BaseModels baseModels, RunStore store, PublishStep.Observer steps) {
    this.versions = versions;
    this.baseModels = baseModels;
    this.store = store;
    this.steps = steps;
  }

  /** What a trained, tested and parity-checked run publishes. */
  record Publication(
      long runId,
      NewModelVersion version,
      BaseModels.NewBaseModel baseModel,
      Long peakMemoryBytes) {}

  @Transactional
  public ModelVersionInfo publish(Publication p) {
    long runId = p.runId();
    ModelVersionInfo version =
        versions.findByRun(runId).orElseGet(() -> versions.registerUnaliased(p.version()));
    steps.passed(PublishStep.VERSION_REGISTERED, runId);
    store.published(
        runId,
        version.modelName() + ":" + version.version(),
        version.sha256(),
        version.parityMaxAbsDiff(),
        p.peakMemoryBytes());
    steps.passed(PublishStep.SUMMARY_WRITTEN, runId);
    if (p.baseModel() != null && !baseModels.existsForRun(p.baseModel().name(), runId)) {
      baseModels.register(p.baseModel()); // ALREADY_EXISTS for a name taken meanwhile: rolls back
    }
    steps.passed(PublishStep.BASE_MODEL_REGISTERED, runId);
    store.finish(runId, RunStatus.SUCCEEDED, null);
    steps.passed(PublishStep.SUCCEEDED, runId);
    ModelVersionInfo aliased =
        versions.setAlias(version.modelName(), ModelVersions.DEFAULT_ALIAS, version.version());
    steps.passed(PublishStep.ALIAS_MOVED, runId);
    return aliased;
  }
}
