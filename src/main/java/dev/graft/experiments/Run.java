package dev.graft.experiments;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/**
 * One training run with its full configuration, as structured columns for what queries filter on
 * and JSONB for the rest.
 */
@Entity
@Table(name = "run")
public class Run {

  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  public Long id;

  @Column(name = "experiment_id", nullable = false)
  public Long experimentId;

  @Column(nullable = false, length = 128)
  public String name;

  /** TRANSFER_LEARNING, FINE_TUNING, GRADUAL, FROM_SCRATCH or PRETRAINING. */
  @Column(nullable = false, length = 32)
  public String strategy;

  @Enumerated(EnumType.STRING)
  @Column(nullable = false, length = 16)
  public RunStatus status;

  @Column(name = "base_model_id")
  public Long baseModelId;

  @Column(name = "dataset_id")
  public Long datasetId;

  /** The run this one continues or derives from (lineage). */
  @Column(name = "parent_run_id")
  public Long parentRunId;

  /** Full configuration: freeze spec, head spec, hyper-parameters, split, augmentation. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public Map<String, Object> config = new LinkedHashMap<>();

  /**
   * The configuration under the names the search language uses (params.learning_rate, ...); written
   * once when the run is queued.
   */
  @JdbcTypeCode(SqlTypes.JSON)
  public Map<String, Object> params;

  @Column(nullable = false)
  public long seed;

  @Column(name = "requested_device", nullable = false, length = 32)
  public String requestedDevice;

  /** The device actually used, once known. */
  @Column(length = 64)
  public String device;

  /** Library versions (Graft, DJL, PyTorch, ONNX Runtime, Java). */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public Map<String, String> versions = new LinkedHashMap<>();

  @Column(name = "split_hash", length = 64)
  public String splitHash;

  @Column(name = "trainable_params")
  public Long trainableParams;

  @Column(name = "total_params")
  public Long totalParams;

  @Column(name = "peak_memory_bytes")
  public Long peakMemoryBytes;

  /** Final results: test metrics, confusion matrix, feature-cache use. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public Map<String, Object> summary = new LinkedHashMap<>();

  public String error;

  @Column(name = "created_at", nullable = false)
  public Instant createdAt;

  @Column(name = "started_at")
  public Instant startedAt;

  @Column(name = "finished_at")
  public Instant finishedAt;

  @Column(name = "updated_at", nullable = false)
  public Instant updatedAt;

  /**
   * The trainer that holds the run's lease ({@code <role>@<host>/<pid>}), or that trained it last
   * once it ended; null while queued.
   */
  public String owner;

  /** Until when the owner's lease holds; a RUNNING run past it belongs to a stopped trainer. */
  @Column(name = "lease_expires_at")
  public Instant leaseExpiresAt;

  /** How often a trainer claimed the run (1 for a run that trained once). */
  @Column(nullable = false)
  public int attempts;

  /** The most claims the run may get through automatic resumes after a trainer stopped. */
  @Column(name = "max_attempts", nullable = false)
  public int maxAttempts = 1;

  /** Set by CancelRun for a run that another process trains; its owner's heartbeat reads it. */
  @Column(name = "cancel_requested", nullable = false)
  public boolean cancelRequested;
}
