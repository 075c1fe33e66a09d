package dev.graft.api;

import dev.graft.core.Readiness;
import grpc.health.v1.Health;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import java.time.Duration;
import java.util.Set;

/**
 * The standard {@code grpc.health.v1.Health} service, reporting SERVING only while Graft is ready
 * (its database reachable). The empty service name stands for the whole server.
 */
@GrpcService
public class HealthGrpcService implements Health {

  static final Set<String> SERVICES = Set.of("", "graft.v1.ExperimentService");
  private static final Duration WATCH_INTERVAL = Duration.ofSeconds(1);

  private final Readiness readiness;

  HealthGrpcService(Readiness readiness) {
    this.readiness = readiness;
  }

  @Override
  @Blocking
  public Uni<HealthCheckResponse> check(HealthCheckRequest request) {
    return Uni.createFrom().item(() -> response(statusOf(request.getService())));
  }

  @Override
  public Multi<HealthCheckResponse> watch(HealthCheckRequest request) {
    String service = request.getService();
    if (!SERVICES.contains(service)) {
      // SERVICE_UNKNOWN (3) is newer than the health.proto these stubs were generated from.
      return Multi.createFrom().item(HealthCheckResponse.newBuilder().setStatusValue(3).build());
    }
    return Multi.createFrom()
        .ticks()
        .every(WATCH_INTERVAL)
        .onOverflow()
        .drop()
        .emitOn(Infrastructure.getDefaultWorkerPool())
        .map(tick -> statusOf(service))
        .skip()
        .repetitions()
        .map(HealthGrpcService::response);
  }

  private ServingStatus statusOf(String service) {
    if (!SERVICES.contains(service)) {
      throw Status.NOT_FOUND
          .withDescription("unknown service '" + service + "'; known: " + SERVICES)
          .asRuntimeException();
    }
    return readiness.isReady() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  private static HealthCheckResponse response(ServingStatus status) {
    return HealthCheckResponse.newBuilder().setStatus(status).build();
  }
}
