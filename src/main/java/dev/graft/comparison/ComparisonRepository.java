package dev.graft.comparison;

import io.quarkus.hibernate.orm.panache.PanacheRepository;
import jakarta.enterprise.context.ApplicationScoped;

@ApplicationScoped
public class ComparisonRepository implements PanacheRepository<ComparisonRecord> {}
