package dev.graft.comparison;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.IdClass;
import jakarta.persistence.Table;
import java.io.Serializable;
import java.util.Objects;

/** One run of a comparison: its cell (strategy, training examples) and repeat. */
@Entity
@Table(name = "comparison_run")
@IdClass(ComparisonRunRecord.Key.class)
public class ComparisonRunRecord {

  @Id
  @Column(name = "comparison_id")
  public Long comparisonId;

  @Id
  @Column(name = "run_id")
  public Long runId;

  @Column(nullable = false, length = 32)
  public String strategy;

  @Column(name = "training_examples", nullable = false)
  public int trainingExamples;

  @Column(name = "repeat_index", nullable = false)
  public int repeat;

  /** Composite key. */
  public static class Key implements Serializable {
    public Long comparisonId;
    public Long runId;

    @Override
    public boolean equals(Object o) {
      return o instanceof Key k
          && Objects.equals(comparisonId, k.comparisonId)
          && Objects.equals(runId, k.runId);
    }

    @Override
    public int hashCode() {
      return Objects.hash(comparisonId, runId);
    }
  }
}
