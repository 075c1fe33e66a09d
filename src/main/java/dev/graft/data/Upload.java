package dev.graft.data;

import dev.graft.core.GraftException;

/**
 * One dataset upload in progress. Examples are validated and appended to the staging file as they
 * arrive; any failure aborts the whole upload (the file is deleted), and so must a cancelled
 * stream. Not thread-safe: a stream delivers its messages one after the other.
 */
public final class Upload {

  private final Datasets datasets;
  private final String name;
  private final DatasetBuilder builder;
  private long index;
  private boolean ended;

  Upload(Datasets datasets, String name, DatasetBuilder builder) {
    this.datasets = datasets;
    this.name = name;
    this.builder = builder;
  }

  /** Examples accepted so far. */
  public long count() {
    return index;
  }

  /** Validates and stores the next example. */
  public void add(UploadExample example) {
    String what = "example " + index;
    try {
      if (example.labelName() == null && example.labelIndex() == null) {
        throw new GraftException.InvalidArgument(
            what + " has no label: set label_index or label_name");
      }
      int label =
          example.labelName() != null
              ? builder.label(example.labelName(), what)
              : labelIndex(example.labelIndex(), what);
      boolean hasImage = example.image() != null && example.image().length > 0;
      boolean hasFeatures = example.features() != null && example.features().length > 0;
      boolean hasText = example.text() != null && !example.text().isEmpty();
      String holds = DatasetBuilder.plural(builder.kind());
      switch (builder.kind()) {
        case IMAGE:
          refuse(hasFeatures, what + " carries features but the dataset holds images");
          refuse(hasText, what + " carries text but the dataset holds images");
          if (!hasImage) {
            throw new GraftException.InvalidArgument(what + " has no image bytes");
          }
          builder.addEncodedImage(label, example.image(), what);
          break;
        case FEATURES:
          refuse(hasImage, what + " carries image bytes but the dataset holds " + holds);
          refuse(hasText, what + " carries text but the dataset holds " + holds);
          builder.addFeatures(label, example.features(), what);
          break;
        default:
          refuse(hasImage, what + " carries image bytes but the dataset holds texts; set text");
          refuse(hasFeatures, what + " carries features but the dataset holds texts; set text");
          builder.addText(label, example.text(), what);
      }
      index++;
    } catch (RuntimeException e) {
      abort();
      throw e;
    }
  }

  private static void refuse(boolean condition, String message) {
    if (condition) {
      throw new GraftException.InvalidArgument(message);
    }
  }

  private int labelIndex(int index, String what) {
    int classes = builder.classNames().size();
    if (index < 0 || index >= classes) {
      throw new GraftException.InvalidArgument(
          what
              + ": label_index "
              + index
              + " is out of range [0, "
              + classes
              + "): it indexes the header's "
              + classes
              + " class_names");
    }
    return index;
  }

  /** Completes the file and records the dataset; on failure nothing stays behind. */
  public DatasetInfo finish() {
    try {
      DatasetBuilder.Staged staged = builder.finish();
      ended = true;
      return datasets.store(staged, name, DatasetSource.UPLOAD);
    } catch (RuntimeException e) {
      abort();
      throw e;
    }
  }

  /** Deletes everything written so far; safe to call more than once. */
  public void abort() {
    if (!ended) {
      ended = true;
      builder.abort();
    }
  }
}
