package dev.graft.training;

/** Set by CancelRun; the training loop checks it after every batch. */
final class CancelToken {

  private volatile boolean cancelled;

  void cancel() {
    cancelled = true;
  }

  boolean isCancelled() {
    return cancelled;
  }

  /** Thrown out of the training loop to stop a cancelled run. */
  static final class Cancelled extends RuntimeException {
    Cancelled() {
      super("cancelled by CancelRun", null, false, false);
    }
  }

  void check() {
    if (cancelled) {
      throw new Cancelled();
    }
  }
}
