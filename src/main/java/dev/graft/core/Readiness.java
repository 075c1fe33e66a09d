package dev.graft.core;

import io.smallrye.health.SmallRyeHealthReporter;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Whether Graft can serve requests now: the same readiness checks as {@code /q/health/ready} (the
 * database among them), so HTTP and gRPC health never disagree.
 */
@ApplicationScoped
public class Readiness {

  private final SmallRyeHealthReporter reporter;

  Readiness(SmallRyeHealthReporter reporter) {
    this.reporter = reporter;
  }

  /** Runs the readiness checks; blocks for at most the datasource's acquisition timeout. */
  public boolean isReady() {
    return !reporter.getReadiness().isDown();
  }
}
