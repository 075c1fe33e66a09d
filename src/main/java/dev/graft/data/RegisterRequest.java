package dev.graft.data;

import java.util.List;

/**
 * A server-side import: which importer ({@code source}), what to read, and the options of that
 * importer (see the proto's RegisterDatasetRequest for each field).
 */
public record RegisterRequest(
    String name,
    DatasetSource source,
    String path,
    String labelsPath,
    List<String> classNames,
    String labelColumn,
    ImageShape imageShape,
    ResizePolicy resizePolicy,
    int examplesPerClass,
    long seed) {}
