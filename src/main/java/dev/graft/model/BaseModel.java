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

/** A pre-trained network that new heads are grafted onto, stored as an ONNX file. */
@Entity
@Table(name = "base_model")
public class BaseModel {

  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  public Long id;

  @Column(nullable = false, unique = true, length = 128)
  public String name;

  /** Built-in architecture name, or "onnx" for an imported graph. */
  @Column(nullable = false, length = 64)
  public String architecture;

  /** PRETRAINED (by Graft itself) or IMPORTED. */
  @Column(nullable = false, length = 16)
  public String source;

  @Column(name = "onnx_path", nullable = false)
  public String onnxPath;

  @Column(nullable = false, length = 64)
  public String sha256;

  /** The tensor at which the graph is cut to graft a new head. */
  @Column(name = "feature_tensor", nullable = false, length = 256)
  public String featureTensor;

  @JdbcTypeCode(SqlTypes.JSON)
  @Column(name = "input_spec", nullable = false)
  public Map<String, Object> inputSpec = new LinkedHashMap<>();

  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public Map<String, Object> preprocessing = new LinkedHashMap<>();

  /** Classes of the source task, when known. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(name = "class_names", nullable = false)
  public List<String> classNames = new ArrayList<>();

  /** Metrics reached on the source task. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(nullable = false)
  public Map<String, Double> metrics = new LinkedHashMap<>();

  @Column(name = "pretrain_run_id")
  public Long pretrainRunId;

  @Column(name = "created_at", nullable = false)
  public Instant createdAt;
}
