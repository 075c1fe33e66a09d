package dev.graft.data;

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

/** A labelled dataset stored under the data directory. */
@Entity
@Table(name = "dataset")
public class Dataset {

  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  public Long id;

  @Column(nullable = false, unique = true, length = 128)
  public String name;

  /** IMAGE, FEATURES or TEXT. */
  @Column(nullable = false, length = 16)
  public String kind;

  /** A {@link DatasetSource} name. */
  @Column(nullable = false, length = 16)
  public String source;

  /** READY once fully stored and hashed. */
  @Column(nullable = false, length = 16)
  public String status;

  /** Class names in label order. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(name = "class_names", nullable = false)
  public List<String> classNames = new ArrayList<>();

  @JdbcTypeCode(SqlTypes.JSON)
  @Column(name = "class_counts", nullable = false)
  public Map<String, Long> classCounts = new LinkedHashMap<>();

  @Column(name = "example_count", nullable = false)
  public long exampleCount;

  /** Shape of one example, e.g. [1, 28, 28] for images, [n] for feature vectors, [] for texts. */
  @JdbcTypeCode(SqlTypes.JSON)
  @Column(name = "example_shape", nullable = false)
  public List<Long> exampleShape = new ArrayList<>();

  @Column(length = 64)
  public String sha256;

  @Column(name = "storage_path", nullable = false)
  public String storagePath;

  @Column(name = "size_bytes", nullable = false)
  public long sizeBytes;

  /** Text datasets only: the longest text in characters (code points). */
  @Column(name = "text_max_chars")
  public Long textMaxChars;

  /** Text datasets only: the mean text length in characters. */
  @Column(name = "text_mean_chars")
  public Double textMeanChars;

  @Column(name = "created_at", nullable = false)
  public Instant createdAt;
}
