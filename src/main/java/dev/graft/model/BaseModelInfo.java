package dev.graft.model;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/** A base model as callers see it. */
public record BaseModelInfo(
    long id,
    String name,
    String architecture,
    String source,
    String sha256,
    String featureTensor,
    Map<String, Object> inputSpec,
    Map<String, Object> preprocessing,
    List<String> classNames,
    Map<String, Double> metrics,
    long pretrainRunId,
    Instant createdAt) {

  static BaseModelInfo of(BaseModel b) {
    return new BaseModelInfo(
        b.id,
        b.name,
        b.architecture,
        b.source,
        b.sha256,
        b.featureTensor,
        Map.copyOf(b.inputSpec),
        Map.copyOf(b.preprocessing),
        List.copyOf(b.classNames),
        Map.copyOf(b.metrics),
        b.pretrainRunId == null ? 0 : b.pretrainRunId,
        b.createdAt);
  }
}
