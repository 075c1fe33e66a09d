package dev.graft.api;

import dev.graft.core.StartupGate;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Set;

/**
 * Refuses calls with UNAVAILABLE until start-up is complete ({@link StartupGate}); health and
 * reflection answer throughout, health with NOT_SERVING until then. UNAVAILABLE is the status gRPC
 * clients retry.
 */
@ApplicationScoped
@GlobalInterceptor
public class StartupGateInterceptor implements ServerInterceptor {

  private static final Set<String> ALWAYS_OPEN =
      Set.of(
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection");

  private final StartupGate gate;

  StartupGateInterceptor(StartupGate gate) {
    this.gate = gate;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    if (gate.isOpen() || ALWAYS_OPEN.contains(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers);
    }
    call.close(Status.UNAVAILABLE.withDescription(StartupGate.STARTING), new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
