package dev.graft.experiments;

import java.time.Instant;
import java.util.List;

/** An experiment as callers see it. */
public record ExperimentInfo(
    long id,
    String name,
    String description,
    List<String> tags,
    Instant createdAt,
    Instant updatedAt,
    long runCount) {

  static ExperimentInfo of(Experiment e, long runCount) {
    return new ExperimentInfo(
        e.id, e.name, e.description, List.of(e.tags), e.createdAt, e.updatedAt, runCount);
  }
}
