package dev.graft.experiments;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;

/** One value of one metric of a run at one step (indexed by run, key, step). */
@Entity
@Table(name = "metric_point")
public class MetricPoint {

  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  public Long id;

  @Column(name = "run_id", nullable = false)
  public Long runId;

  @Column(nullable = false, length = 128)
  public String key;

  @Column(nullable = false)
  public long step;

  @Column(nullable = false)
  public int epoch;

  @Column(nullable = false)
  public double value;

  @Column(name = "recorded_at", nullable = false)
  public Instant recordedAt;
}
