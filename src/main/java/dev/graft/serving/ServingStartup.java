package dev.graft.serving;

import dev.graft.core.RoleConfig;
import dev.graft.core.ServiceRole;
import dev.graft.model.ModelAliasMoved;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.jboss.logging.Logger;

/**
 * Creates the {@link ModelRegistry} (and with it the ONNX Runtime environment) at start-up in the
 * roles that serve (all, inference), and never in the others; hands it alias moves committed in
 * this process. Its readiness check ({@code model-registry}) is DOWN in a serving role until the
 * runtime is loaded.
 */
@ApplicationScoped
@Readiness
public class ServingStartup implements HealthCheck {

  private static final Logger LOG = Logger.getLogger(ServingStartup.class);

  private final ModelRegistry registry;
  private final ServiceRole role;
  private volatile boolean ready;
  private volatile String failure = "";

  ServingStartup(ModelRegistry registry, RoleConfig roles) {
    this.registry = registry;
    this.role = roles.role();
  }

  /** After the database is migrated, before the start-up gate opens. */
  void onStart(@Observes @Priority(30) StartupEvent event) {
    if (!role.serves()) {
      LOG.infof("graft.role=%s: no model serving here", role.name().toLowerCase());
      return;
    }
    try {
      LOG.infof("Serving with ONNX Runtime (%s)", registry.provider());
      ready = true;
    } catch (RuntimeException | LinkageError e) {
      failure = e.toString();
      LOG.error("ONNX Runtime could not be loaded; this process cannot serve", e);
    }
  }

  /** A moved alias takes effect at once here, and its version is loaded before requests come. */
  void onAliasMoved(@Observes(during = TransactionPhase.AFTER_SUCCESS) ModelAliasMoved moved) {
    if (role.serves()) {
      registry.aliasMoved(moved);
    }
  }

  /** Whether this process serves and its runtime is loaded. */
  public boolean serving() {
    return ready;
  }

  @Override
  public HealthCheckResponse call() {
    var response =
        HealthCheckResponse.named("model-registry").withData("role", role.name().toLowerCase());
    if (!role.serves()) {
      return response.withData("served", false).up().build();
    }
    return response.withData("error", failure).status(ready).build();
  }
}
