package dev.graft.data;

import java.util.List;

/**
 * What an uploaded dataset is.
 *
 * @param imageShape images only: the stored shape, or null to take the first image's
 * @param resizePolicy images only: what to do with images of another size (null: REJECT)
 */
public record UploadHeader(
    String name,
    DatasetKind kind,
    List<String> classNames,
    ImageShape imageShape,
    ResizePolicy resizePolicy) {}
