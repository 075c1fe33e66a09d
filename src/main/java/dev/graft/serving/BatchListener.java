package dev.graft.serving;

/** Observes a {@link Batcher}: statistics and metrics are recorded here, not in its loop. */
public interface BatchListener {

  /**
   * One ONNX Runtime run finished: {@code rows} examples from {@code queueNanos.length} requests,
   * each of which waited {@code queueNanos[i]} in the queue.
   */
  void onBatch(int rows, long[] queueNanos, long inputNanos, long inferNanos, long outputNanos);

  /** A run of {@code requests} requests failed after {@code nanos}. */
  void onBatchFailure(int requests, long nanos);

  BatchListener NONE =
      new BatchListener() {
        @Override
        public void onBatch(
            int rows, long[] queueNanos, long inputNanos, long inferNanos, long outputNanos) {}

        @Override
        public void onBatchFailure(int requests, long nanos) {}
      };
}
