package dev.graft.data;

import java.util.List;

/**
 * A server-side import: which importer ({@code source}), what to read, and the options of that
 * importer (see the proto's RegisterDatasetRequest for each field).
 *
 * @param textColumn TEXT_CSV and TEXT_JSONL: the text column or field (null or empty: "text")
 */
public record RegisterRequest(
    String name,
    DatasetSource source,
    String path,
    String labelsPath,
    List<String> classNames,
    String labelColumn,
    String textColumn,
    ImageShape imageShape,
    ResizePolicy resizePolicy,
    int examplesPerClass,
    long seed) {

  /** A request of a source that reads no text column. */
  public RegisterRequest(
      String name,
      DatasetSource source,
      String path,
      String labelsPath,
      List<String> classNames,
      String labelColumn,
      ImageShape imageShape,
      ResizePolicy resizePolicy,
      int examplesPerClass,
      long seed) {
    this(
        name,
        source,
        path,
        labelsPath,
        classNames,
        labelColumn,
        null,
        imageShape,
        resizePolicy,
        examplesPerClass,
        seed);
  }
}
