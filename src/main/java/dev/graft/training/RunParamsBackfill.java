package dev.graft.training;

import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

/** Once the schema is migrated: runs stored before run search existed become searchable too. */
@ApplicationScoped
class RunParamsBackfill {

  private static final Logger LOG = Logger.getLogger(RunParamsBackfill.class);

  private final RunStore store;
  private final dev.graft.core.ServiceRole role;

  RunParamsBackfill(RunStore store, dev.graft.core.RoleConfig roles) {
    this.store = store;
    this.role = roles.role();
  }

  /** After DatabaseStartup (priority 1), before the scheduler picks up queued runs. */
  void onStart(@Observes @Priority(5) StartupEvent event) {
    if (!role.controls()) {
      return; // the control plane (api, all) does it once for every process
    }
    int filled = store.backfillParams();
    if (filled > 0) {
      LOG.infof("Made %d stored runs searchable by their parameters", filled);
    }
  }
}
