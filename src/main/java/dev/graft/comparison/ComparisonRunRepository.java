package dev.graft.comparison;

import io.quarkus.hibernate.orm.panache.PanacheRepositoryBase;
import jakarta.enterprise.context.ApplicationScoped;

@ApplicationScoped
public class ComparisonRunRepository
    implements PanacheRepositoryBase<ComparisonRunRecord, ComparisonRunRecord.Key> {}
