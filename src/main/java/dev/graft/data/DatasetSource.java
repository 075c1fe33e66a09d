package dev.graft.data;

/** How a dataset arrived; for registration, which importer reads it. */
public enum DatasetSource {
  UPLOAD,
  IMAGE_FOLDER,
  IDX,
  CSV,
  MNIST_JSON,
  SYNTHETIC,
  TEXT_FOLDER,
  TEXT_CSV,
  TEXT_JSONL
}
