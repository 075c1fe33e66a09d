package dev.graft.data;

/** What happens to an image whose height and width differ from the dataset's. */
public enum ResizePolicy {
  /** Refuse the dataset, naming the first image of another size. */
  REJECT,
  /** Resize it (bilinear, aspect ratio not kept) to the dataset's size. */
  STRETCH
}
