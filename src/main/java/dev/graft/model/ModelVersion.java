package dev.graft.model;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/** An immutable trained model: one exported ONNX file that passed the parity gate. */
@Entity
@Table(name = "model_version")
public class ModelVersion {

  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  public Long id;

  @Column(name = "model_name", nullable = false, length = 128)
  public String modelName;

  /** 1, 2, 3... within the model name. */
  @Column(nullable = false)
  public int version;

  @Column(name = "run_id")
  public Long runId;

  @Column(name = "onnx_path", nullable = false)
  public String onnxPath;

  @Column(nullable = false, length = 64)
  public String sha256;

  @JdbcTypeCode(SqlTypes.JSON)
  @Column(name = "input_spec", nullable = false)
  public Map<String, Object> inputSpec = new LinkedHashMap<>();

  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public List<String> labels = new ArrayList<>();

  @Column(name = "parity_max_abs_diff", nullable = false)
  public double parityMaxAbsDiff;

  /** The ONNX metadata_props written at export (provenance). */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public Map<String, String> metadata = new LinkedHashMap<>();

  @Column(name = "created_at", nullable = false)
  public Instant createdAt;
}
