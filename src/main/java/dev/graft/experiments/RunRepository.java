package dev.graft.experiments;

import io.quarkus.hibernate.orm.panache.PanacheRepository;
import jakarta.enterprise.context.ApplicationScoped;

@ApplicationScoped
public class RunRepository implements PanacheRepository<Run> {}
