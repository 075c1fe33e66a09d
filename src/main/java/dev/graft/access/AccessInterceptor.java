package dev.graft.access;

import io.grpc.ForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Lets a gRPC call through only when its API key's role may call the method ({@link MethodRoles});
 * health and reflection stay open. With {@code graft.auth.enabled=false} everything passes.
 */
@ApplicationScoped
@GlobalInterceptor
public class AccessInterceptor implements ServerInterceptor {

  public static final String SEND_KEY = "send 'authorization: Bearer <api key>'";
  static final Logger AUDIT = Logger.getLogger("dev.graft.audit");

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> API_KEY =
      Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);

  private final boolean enabled;
  private final ApiKeys keys;

  @Inject
  AccessInterceptor(AuthConfig config) {
    this(config.enabled(), new ApiKeys(config.keys()));
  }

  public AccessInterceptor(boolean enabled, ApiKeys keys) {
    this.enabled = enabled;
    this.keys = keys;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    if (!enabled
        || MethodRoles.OPEN_SERVICES.contains(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers);
    }
    Object peer = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    Optional<ApiKeys.Caller> caller =
        ApiKeys.keyFrom(headers.get(AUTHORIZATION), headers.get(API_KEY)).flatMap(keys::find);
    Role needed = MethodRoles.needed(method);
    boolean audited = MethodRoles.isAudited(method);
    if (caller.isEmpty()) {
      if (audited) {
        AUDIT.infof("method=%s role=none key=none peer=%s outcome=UNAUTHENTICATED", method, peer);
      }
      return refuse(call, Status.UNAUTHENTICATED.withDescription(SEND_KEY));
    }
    ApiKeys.Caller who = caller.get();
    if (!who.role().mayCall(needed)) {
      if (audited) {
        AUDIT.infof(
            "method=%s role=%s key=%s peer=%s outcome=PERMISSION_DENIED",
            method, who.role().label(), who.fingerprint(), peer);
      }
      return refuse(
          call,
          Status.PERMISSION_DENIED.withDescription(
              "role "
                  + who.role().label()
                  + " may not call "
                  + method
                  + "; it needs "
                  + needed.label()));
    }
    if (!audited) {
      return next.startCall(call, headers);
    }
    return next.startCall(
        new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            AUDIT.infof(
                "method=%s role=%s key=%s peer=%s outcome=%s",
                method, who.role().label(), who.fingerprint(), peer, status.getCode());
            super.close(status, trailers);
          }
        },
        headers);
  }

  private static <ReqT, RespT> ServerCall.Listener<ReqT> refuse(
      ServerCall<ReqT, RespT> call, Status status) {
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
