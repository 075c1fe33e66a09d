package dev.graft.serving;

import dev.graft.core.GraftException;
import java.time.Duration;

/**
 * Batching of one model version; {@code maxBatchSize} 1 means batching off. {@code runners} batches
 * of the version run at once (each on its own thread, all on the one session), so that on a CPU a
 * model whose runs use one thread each keeps every core busy.
 */
public record BatchSettings(
    int maxBatchSize, Duration maxQueueDelay, int queueCapacity, int runners) {

  public BatchSettings {
    if (maxBatchSize < 1 || queueCapacity < 1 || maxQueueDelay.isNegative() || runners < 1) {
      throw new GraftException.InvalidArgument(
          "batching needs max-batch-size >= 1, queue-capacity >= 1, max-queue-delay >= 0 and"
              + " runners >= 1, got "
              + maxBatchSize
              + ", "
              + queueCapacity
              + ", "
              + maxQueueDelay
              + ", "
              + runners);
    }
  }

  /** One runner. */
  public BatchSettings(int maxBatchSize, Duration maxQueueDelay, int queueCapacity) {
    this(maxBatchSize, maxQueueDelay, queueCapacity, 1);
  }
}
