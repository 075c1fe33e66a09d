package dev.graft.training;

import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/**
 * The steps of publishing a trained run, in their order inside its one transaction, and the bean
 * told as each one passes. It logs them; tests replace it (a CDI alternative in a test profile)
 * with one that fails at a chosen step, to prove that a failure anywhere leaves nothing served.
 */
public enum PublishStep {
  /** The exported ONNX file is a new model version (no alias points at it yet). */
  VERSION_REGISTERED,
  /** The run's summary names the version, its sha256 and the parity difference. */
  SUMMARY_WRITTEN,
  /** A pre-training run's classifier is a base model (skipped by other strategies). */
  BASE_MODEL_REGISTERED,
  /** The run is SUCCEEDED. */
  SUCCEEDED,
  /** The alias {@code latest} points at the version: the last write before the commit. */
  ALIAS_MOVED;

  /** Told of every step as it passes, inside the publishing transaction. */
  @ApplicationScoped
  public static class Observer {

    private static final Logger LOG = Logger.getLogger(PublishStep.class);

    /** Throwing here rolls the whole publication back. */
    public void passed(PublishStep step, long runId) {
      LOG.debugf("Run %d publishing: %s", runId, step);
    }
  }
}
