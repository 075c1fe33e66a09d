/**
 * Training runs: the run queue, the strategies (transfer learning, fine-tuning, gradual, from
 * scratch) and the listeners that record metrics, checkpoints and progress.
 */
package dev.graft.training;
