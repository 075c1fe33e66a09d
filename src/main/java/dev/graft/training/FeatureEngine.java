package dev.graft.training;

/** Which engine computes feature caches ({@code graft.training.feature-engine}). */
public enum FeatureEngine {
  /** ONNX Runtime on the cut backbone, parity-checked against OnnxBlock, OnnxBlock on mismatch. */
  ORT,
  /** OnnxBlock on DJL's engine, as training runs the graph. */
  DJL
}
