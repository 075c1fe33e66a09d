package dev.graft.serving;

import dev.graft.core.GraftException;
import java.time.Duration;

/** Batching of one model version; {@code maxBatchSize} 1 means batching off. */
public record BatchSettings(int maxBatchSize, Duration maxQueueDelay, int queueCapacity) {

  public BatchSettings {
    if (maxBatchSize < 1 || queueCapacity < 1 || maxQueueDelay.isNegative()) {
      throw new GraftException.InvalidArgument(
          "batching needs max-batch-size >= 1, queue-capacity >= 1 and max-queue-delay >= 0, got "
              + maxBatchSize
              + ", "
              + queueCapacity
              + ", "
              + maxQueueDelay);
    }
  }
}
