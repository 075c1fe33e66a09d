package dev.graft.api;

import dev.graft.core.RoleConfig;
import dev.graft.core.ServiceRole;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Refuses, with UNIMPLEMENTED, calls to a service that this process's role ({@code graft.role})
 * does not serve, and says which role (and which Kubernetes Service) serves it: the inference role
 * serves InferenceService and KServe v2, the api role the control plane, the trainer only health.
 * Health and reflection answer in every role.
 */
@ApplicationScoped
@GlobalInterceptor
public class RoleGateInterceptor implements ServerInterceptor {

  /** Services answered in every role. */
  static final Set<String> EVERY_ROLE =
      Set.of(
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection");

  /** The role that serves each service when the roles run apart ({@code all} serves them all). */
  static final Map<String, ServiceRole> SERVED_BY =
      Map.of(
          "graft.v1.ExperimentService", ServiceRole.API,
          "graft.v1.DatasetService", ServiceRole.API,
          "graft.v1.TrainingService", ServiceRole.API,
          "graft.v1.ModelService", ServiceRole.API,
          "graft.v1.ComparisonService", ServiceRole.API,
          "graft.v1.InferenceService", ServiceRole.INFERENCE,
          "inference.GRPCInferenceService", ServiceRole.INFERENCE);

  private final ServiceRole role;

  @jakarta.inject.Inject
  RoleGateInterceptor(RoleConfig config) {
    this(config.role());
  }

  RoleGateInterceptor(ServiceRole role) {
    this.role = role;
  }

  /** Whether a process of {@code role} answers {@code service} (a full gRPC service name). */
  public static boolean serves(ServiceRole role, String service) {
    if (role == ServiceRole.ALL || EVERY_ROLE.contains(service)) {
      return true;
    }
    ServiceRole by = SERVED_BY.get(service);
    return by == null || by == role; // unknown services: let gRPC answer as it does
  }

  /** Why a call is refused in this role, or empty when the role serves it. */
  static Optional<String> refusal(ServiceRole role, MethodDescriptor<?, ?> method) {
    String service = method.getServiceName();
    if (serves(role, service)) {
      return Optional.empty();
    }
    ServiceRole by = SERVED_BY.get(service);
    String shortService = service.substring(service.lastIndexOf('.') + 1);
    String name = by.name().toLowerCase(Locale.ROOT);
    return Optional.of(
        "this Graft process has graft.role="
            + role.name().toLowerCase(Locale.ROOT)
            + "; "
            + shortService
            + "/"
            + method.getBareMethodName()
            + " is served by the "
            + name
            + " role (Service graft-"
            + name
            + ", or a process with graft.role=all)");
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    Optional<String> refused = refusal(role, call.getMethodDescriptor());
    if (refused.isEmpty()) {
      return next.startCall(call, headers);
    }
    call.close(Status.UNIMPLEMENTED.withDescription(refused.get()), new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
