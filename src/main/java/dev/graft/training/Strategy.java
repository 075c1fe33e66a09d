package dev.graft.training;

/** How the pre-trained backbone is treated during a run. */
public enum Strategy {
  /** Backbone frozen, BatchNorm statistics too; only the new head trains. */
  TRANSFER_LEARNING,
  /** New head plus the backbone (all, or the last N blocks) at a lower learning rate. */
  FINE_TUNING,
  /** Head-only epochs first, then the backbone unfrozen at a lower rate. */
  GRADUAL,
  /** The same architecture from random weights: the baseline. */
  FROM_SCRATCH,
  /** Graft's own pre-training of a built-in architecture on a source dataset. */
  PRETRAINING;

  /**
   * Whether the backbone trains at the head's rate times {@code backbone_lr_multiplier}: only when
   * it holds pre-trained weights worth protecting. From scratch (and in pre-training) every weight
   * is random, and a slower backbone would only handicap the baseline.
   */
  boolean slowsBackbone() {
    return this == FINE_TUNING || this == GRADUAL;
  }

  /** Whether the backbone keeps its weights during the first epochs. */
  boolean startsFrozen() {
    return this == TRANSFER_LEARNING || this == GRADUAL;
  }
}
