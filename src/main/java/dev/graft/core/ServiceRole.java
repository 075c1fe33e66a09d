package dev.graft.core;

/**
 * What one Graft process does ({@code graft.role}). One artifact runs every role; Kubernetes runs
 * each role as its own Deployment against one PostgreSQL and one shared artifact directory.
 */
public enum ServiceRole {
  /** Everything in one process, with the embedded PostgreSQL by default: small installs. */
  ALL,
  /** Control plane: experiments, datasets, the run queue, the model registry, WatchRun. */
  API,
  /** Claims queued runs and trains them; no public port beyond health and metrics. */
  TRAINER,
  /** Serves model versions (InferenceService, KServe v2); stateless, no training code path. */
  INFERENCE;

  /** Whether this role claims and trains queued runs. */
  public boolean trains() {
    return this == ALL || this == TRAINER;
  }

  /** Whether this role serves predictions. */
  public boolean serves() {
    return this == ALL || this == INFERENCE;
  }

  /** Whether this role answers the control-plane services (datasets, experiments, runs, models). */
  public boolean controls() {
    return this == ALL || this == API;
  }
}
