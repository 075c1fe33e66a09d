package dev.graft.training;

/**
 * Stops a run after its current batch: CancelRun, a lost lease or a shutdown. The training loop
 * checks it after every batch; the scheduler reads {@link #reason()} to decide what the run ends
 * as.
 */
final class CancelToken {

  /** Why a run stops. */
  enum Reason {
    /** CancelRun: the run ends CANCELLED. */
    CANCELLED,
    /** The service stops (SIGTERM): the run ends INTERRUPTED, and is queued again if it may. */
    SHUTDOWN,
    /** Another trainer took the run over: nothing more is written. */
    LEASE_LOST
  }

  private volatile Reason reason;

  void cancel() {
    stop(Reason.CANCELLED);
  }

  /** The first reason wins, except that a lost lease overrides every other: nothing is written. */
  synchronized void stop(Reason why) {
    if (reason == null || why == Reason.LEASE_LOST) {
      reason = why;
    }
  }

  boolean isCancelled() {
    return reason != null;
  }

  Reason reason() {
    return reason;
  }

  /** Thrown out of the training loop to stop a run. */
  static final class Cancelled extends RuntimeException {
    private final Reason reason;

    Cancelled(Reason reason) {
      super(
          switch (reason) {
            case CANCELLED -> "cancelled by CancelRun";
            case SHUTDOWN -> "the service is stopping";
            case LEASE_LOST -> "this trainer lost the run's lease";
          },
          null,
          false,
          false);
      this.reason = reason;
    }

    Cancelled() {
      this(Reason.CANCELLED);
    }

    Reason reason() {
      return reason;
    }
  }

  void check() {
    Reason r = reason;
    if (r != null) {
      throw new Cancelled(r);
    }
  }
}
