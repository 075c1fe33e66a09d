package dev.graft.model;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;

/** A movable name (latest, champion...) pointing at one version of a model. */
@Entity
@Table(name = "model_alias")
public class ModelAlias {

  @Id
  @GeneratedValue(strategy = GenerationType.IDENTITY)
  public Long id;

  @Column(name = "model_name", nullable = false, length = 128)
  public String modelName;

  @Column(nullable = false, length = 64)
  public String alias;

  @Column(name = "model_version_id", nullable = false)
  public Long modelVersionId;

  @Column(name = "updated_at", nullable = false)
  public Instant updatedAt;
}
