package dev.graft.api;

import dev.graft.core.Readiness;
import dev.graft.core.RoleConfig;
import dev.graft.core.ServiceRole;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.smallrye.mutiny.subscription.Cancellable;
import java.time.Duration;
import java.util.Set;

/**
 * The standard {@code grpc.health.v1.Health} service, reporting SERVING only while Graft is ready
 * (its database reachable, and what its role needs: see {@code RoleReadiness}). The empty service
 * name stands for the whole server; only the services of this process's role are known. Quarkus'
 * built-in health service is switched off because it does not follow readiness.
 */
@GrpcService
public class HealthGrpcService extends HealthGrpc.HealthImplBase {

  private static final String HEALTH = HealthGrpc.SERVICE_NAME;

  static final Set<String> SERVICES =
      Set.of(
          "",
          "graft.v1.ExperimentService",
          "graft.v1.DatasetService",
          "graft.v1.TrainingService",
          "graft.v1.ModelService",
          "graft.v1.InferenceService",
          "inference.GRPCInferenceService",
          HealthGrpcService.HEALTH);
  private static final Duration WATCH_INTERVAL = Duration.ofSeconds(1);
  // SERVICE_UNKNOWN (3) is newer than the health.proto these stubs were generated from.
  private static final int SERVICE_UNKNOWN = 3;

  private final Readiness readiness;
  private final ServiceRole role;

  HealthGrpcService(Readiness readiness, RoleConfig roles) {
    this.readiness = readiness;
    this.role = roles.role();
  }

  /** The services this process answers: those of its role ({@code graft.role}). */
  private boolean known(String service) {
    return SERVICES.contains(service) && RoleGateInterceptor.serves(role, service);
  }

  @Override
  @Blocking
  public void check(HealthCheckRequest request, StreamObserver<HealthCheckResponse> response) {
    String service = request.getService();
    if (!known(service)) {
      response.onError(
          Status.NOT_FOUND
              .withDescription(
                  "unknown service '"
                      + service
                      + "' in a process with graft.role="
                      + role.name().toLowerCase(java.util.Locale.ROOT)
                      + "; known: "
                      + SERVICES.stream().filter(this::known).sorted().toList())
              .asException());
      return;
    }
    response.onNext(response(status(service)));
    response.onCompleted();
  }

  @Override
  public void watch(HealthCheckRequest request, StreamObserver<HealthCheckResponse> response) {
    if (!known(request.getService())) {
      response.onNext(HealthCheckResponse.newBuilder().setStatusValue(SERVICE_UNKNOWN).build());
      return; // per the protocol the stream stays open; the client ends it
    }
    Cancellable subscription =
        Multi.createFrom()
            .ticks()
            .startingAfter(Duration.ofMillis(1))
            .every(WATCH_INTERVAL)
            .onOverflow()
            .drop()
            .emitOn(Infrastructure.getDefaultWorkerPool())
            .map(tick -> status(request.getService()))
            .skip()
            .repetitions()
            .subscribe()
            .with(status -> response.onNext(response(status)), response::onError);
    ((ServerCallStreamObserver<HealthCheckResponse>) response)
        .setOnCancelHandler(subscription::cancel);
  }

  private ServingStatus status(String service) {
    // The health service itself answers without the database.
    return HEALTH.equals(service) ? ServingStatus.SERVING : status();
  }

  private ServingStatus status() {
    return readiness.isReady() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  private static HealthCheckResponse response(ServingStatus status) {
    return HealthCheckResponse.newBuilder().setStatus(status).build();
  }
}
