/**
 * Training runs: the run queue, the strategies (transfer learning, fine-tuning, gradual, from
 * scratch) and the listeners that record metrics, checkpoints and progress; the feature cache of a
 * frozen backbone, computed by ONNX Runtime ({@link dev.graft.training.OrtFeatures}) and checked
 * against OnnxBlock ({@link dev.graft.training.DjlFeatures}).
 */
package dev.graft.training;
