package dev.graft.data;

import java.util.List;

/** One page of datasets, newest first; {@code nextPageToken} is empty on the last page. */
public record DatasetPage(List<DatasetInfo> datasets, String nextPageToken) {}
