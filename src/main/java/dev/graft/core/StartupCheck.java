package dev.graft.core;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;

/** Readiness is DOWN until start-up is complete ({@link StartupGate}). */
@ApplicationScoped
@org.eclipse.microprofile.health.Readiness
public class StartupCheck implements HealthCheck {

  private final StartupGate gate;

  StartupCheck(StartupGate gate) {
    this.gate = gate;
  }

  @Override
  public HealthCheckResponse call() {
    return HealthCheckResponse.named("startup").status(gate.isOpen()).build();
  }
}
