package dev.graft.model;

import io.quarkus.hibernate.orm.panache.PanacheRepository;
import jakarta.enterprise.context.ApplicationScoped;

@ApplicationScoped
public class ModelVersionRepository implements PanacheRepository<ModelVersion> {}
