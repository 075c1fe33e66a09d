package dev.graft.experiments;

import java.util.List;

/** One page of experiments, newest first; {@code nextPageToken} is empty on the last page. */
public record ExperimentPage(List<ExperimentInfo> experiments, String nextPageToken) {}
