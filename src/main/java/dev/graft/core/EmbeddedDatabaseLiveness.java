package dev.graft.core;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/**
 * Liveness follows the supervised embedded PostgreSQL: DOWN once restarts of a dead server keep
 * failing, so that Kubernetes replaces the pod instead of leaving it unready for ever. A server
 * that is down but restarting only makes the service unready (the datasource's readiness check).
 */
@Liveness
@ApplicationScoped
public class EmbeddedDatabaseLiveness implements HealthCheck {

  private final EmbeddedDatabase embedded;

  EmbeddedDatabaseLiveness(EmbeddedDatabase embedded) {
    this.embedded = embedded;
  }

  @Override
  public HealthCheckResponse call() {
    return HealthCheckResponse.named("embedded-database")
        .status(embedded.isAlive())
        .withData("running", embedded.isRunning())
        .withData("pid", embedded.pid().map(String::valueOf).orElse("none"))
        .build();
  }
}
