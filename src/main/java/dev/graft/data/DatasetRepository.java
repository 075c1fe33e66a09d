package dev.graft.data;

import io.quarkus.hibernate.orm.panache.PanacheRepository;
import jakarta.enterprise.context.ApplicationScoped;

@ApplicationScoped
public class DatasetRepository implements PanacheRepository<Dataset> {}
