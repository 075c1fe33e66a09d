package dev.graft.data;

/** What one example is: an image (stored as uint8 CHW pixels) or a float32 feature vector. */
public enum DatasetKind {
  IMAGE,
  FEATURES
}
