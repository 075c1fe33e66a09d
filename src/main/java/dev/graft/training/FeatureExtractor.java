package dev.graft.training;

/**
 * Runs a frozen backbone (a graph cut at its feature tensor) in inference mode and returns each
 * example's features, flattened. One owner closes it.
 */
interface FeatureExtractor extends AutoCloseable {

  /** Features of every example of the batch, in batch order. */
  float[][] extract(FeatureBatch batch);

  /** "ort" or "djl". */
  String engine();

  /** Where it runs: CPU or CUDA for ONNX Runtime, the DJL device otherwise. */
  String provider();

  @Override
  void close();
}
