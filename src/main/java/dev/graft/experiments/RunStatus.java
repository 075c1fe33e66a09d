package dev.graft.experiments;

/** Life cycle of a run. QUEUED and RUNNING are live; the others are final. */
public enum RunStatus {
  QUEUED,
  RUNNING,
  SUCCEEDED,
  FAILED,
  CANCELLED,
  /** The service stopped while the run was RUNNING; it can be resumed from its checkpoint. */
  INTERRUPTED;

  public boolean isFinal() {
    return this != QUEUED && this != RUNNING;
  }
}
