package dev.graft.serving;

/** Which ONNX Runtime execution provider to request. */
public enum ExecutionProvider {
  /** CUDA when the runtime offers it, else CPU (without a warning: no GPU is a normal setup). */
  AUTO,
  /** Always the CPU. */
  CPU,
  /** CUDA; when the runtime does not offer it, CPU with a logged warning. */
  CUDA
}
