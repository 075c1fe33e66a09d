package dev.graft.data;

/**
 * What one example is: an image (stored as uint8 CHW pixels), a float32 feature vector, or a UTF-8
 * text of its own length.
 */
public enum DatasetKind {
  IMAGE,
  FEATURES,
  TEXT
}
