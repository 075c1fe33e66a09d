package dev.graft.model;

/**
 * Numbers of learnable values (elements of weight initializers, as PyTorch counts {@code
 * parameters()}; BatchNorm statistics and constants excluded).
 *
 * @param trainable values that receive gradients
 * @param total all learnable values
 */
public record ParameterCounts(long trainable, long total) {

  /** Values that stay fixed. */
  public long frozen() {
    return total - trainable;
  }
}
