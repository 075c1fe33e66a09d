package dev.graft.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.bus.Bus;
import dev.graft.core.RoleConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Keeps the {@link ModelRegistry} of a serving process (roles all, inference) in step with the
 * registry in PostgreSQL when other processes change it: a {@code graft_models} notification (sent
 * by the database's triggers at commit, whichever process moved the alias or published the version)
 * makes it reload that alias's target at once, typically well under a second after the commit;
 * every {@code graft.serving.reconcile-interval} (default 30 s) it compares all aliases it serves
 * with the database and fixes drift, which also covers notifications lost while its listener
 * reconnected. Independently of both, an alias resolution is reused for at most {@code
 * graft.serving.alias-cache-ttl}.
 */
@ApplicationScoped
public class ModelPropagation {

  private static final Logger LOG = Logger.getLogger(ModelPropagation.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Bus bus;
  private final ModelRegistry registry;
  private final RoleConfig roles;
  private final ServingConfig config;
  private ScheduledExecutorService worker;

  ModelPropagation(Bus bus, ModelRegistry registry, RoleConfig roles, ServingConfig config) {
    this.bus = bus;
    this.registry = registry;
    this.roles = roles;
    this.config = config;
  }

  /** After ServingStartup (priority 30) created the registry. */
  void onStart(@Observes @Priority(31) StartupEvent event) {
    if (!roles.role().serves()) {
      return;
    }
    worker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "graft-model-propagation");
              t.setDaemon(true);
              return t;
            });
    if (bus.enabled()) {
      bus.subscribe(Bus.MODELS, payload -> worker.execute(() -> changed(payload)));
      bus.onReconnect(() -> worker.execute(this::reconcile));
    }
    long every = config.reconcileInterval().toMillis();
    worker.scheduleWithFixedDelay(this::reconcile, every, every, TimeUnit.MILLISECONDS);
  }

  void onStop(@Observes @Priority(6_000) ShutdownEvent event) {
    if (worker != null) {
      worker.shutdownNow();
    }
  }

  /**
   * One {@code graft_models} payload: {@code {model, alias, version_id}} or {@code {model,
   * version}}.
   */
  void changed(String payload) {
    try {
      JsonNode n = JSON.readTree(payload);
      String model = n.path("model").asText("");
      if (n.hasNonNull("alias")) {
        registry.aliasChanged(model, n.get("alias").asText());
      } else if (n.has("version") && "delete".equals(n.path("op").asText())) {
        registry.versionRemoved(model, n.get("version").asInt());
      }
      // A new version needs nothing here: its alias ("latest" or the one named) notifies too.
    } catch (IOException | RuntimeException e) {
      LOG.debugf("Ignoring a model notification %s: %s", payload, e.toString());
    }
  }

  void reconcile() {
    try {
      int drifted = registry.reconcile();
      if (drifted > 0) {
        LOG.infof("Reconciled %d aliases with the model registry", drifted);
      }
    } catch (RuntimeException e) {
      LOG.debugf("Reconciling aliases failed: %s", e.toString());
    }
  }
}
