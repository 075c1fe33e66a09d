package dev.graft.comparison;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/** A stored comparison: what was compared; its runs are rows of {@link ComparisonRunRecord}. */
@Entity
@Table(name = "comparison")
public class ComparisonRecord {

  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  public Long id;

  @Column(name = "experiment_id", nullable = false)
  public Long experimentId;

  @Column(nullable = false, length = 128)
  public String name;

  @Column(name = "base_model", nullable = false, length = 128)
  public String baseModel;

  @Column(nullable = false, length = 128)
  public String dataset;

  /** Strategy names in request order. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public List<String> strategies = new ArrayList<>();

  /** Training examples per size, ascending. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public List<Integer> sizes = new ArrayList<>();

  @Column(nullable = false)
  public int repeats;

  @Column(nullable = false)
  public boolean cancelled;

  @Column(name = "created_at", nullable = false)
  public Instant createdAt;

  /** What the probe sweep probes; null when the comparison asked for none. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(name = "probe_request")
  public ProbeRequest probeRequest;

  /** The probe sweep once computed. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(name = "probe_sweep")
  public ComparisonView.ProbeSweep probeSweep;

  /** Why the probe sweep failed or was dropped. */
  @Column(name = "probe_error")
  public String probeError;

  /**
   * The split a comparison's probe sweep uses: its runs' validation and test fractions and seed,
   * with its largest training size.
   */
  public record ProbeRequest(
      double validationFraction,
      double testFraction,
      int trainExamples,
      long seed,
      int maxSequenceLength) {}
}
