package dev.graft.access;

import com.google.protobuf.MessageLite;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.spi.Prioritized;
import jakarta.inject.Inject;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Per-client limits on gRPC ({@link ClientLimits}): a call over the client's rate is refused at
 * once, and an upload stream that sends more than {@code graft.limits.max-upload-bytes} is ended as
 * cancelled for the service (which then stores nothing) and RESOURCE_EXHAUSTED for the client. Runs
 * after the start-up gate and the access check (its priority is below their 0; Quarkus calls the
 * highest first), so calls refused there cost a client nothing.
 */
@ApplicationScoped
@GlobalInterceptor
public class ClientLimitsInterceptor implements ServerInterceptor, Prioritized {

  /** The client-streaming uploads whose total size {@code graft.limits.max-upload-bytes} caps. */
  public static final Set<String> UPLOADS =
      Set.of("graft.v1.DatasetService/UploadDataset", "graft.v1.ModelService/ImportBaseModel");

  private final ClientLimits limits;

  @Inject
  public ClientLimitsInterceptor(ClientLimits limits) {
    this.limits = limits;
  }

  @Override
  public int getPriority() {
    return -100;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    boolean capped = limits.maxUploadBytes() > 0 && UPLOADS.contains(method);
    if ((!limits.rateLimited() && !capped)
        || MethodRoles.OPEN_SERVICES.contains(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers);
    }
    String client =
        limits.client(
            headers.get(AccessInterceptor.AUTHORIZATION),
            headers.get(AccessInterceptor.API_KEY),
            peerHost(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)));
    OptionalLong wait = limits.acquire(client);
    if (wait.isPresent()) {
      call.close(
          Status.RESOURCE_EXHAUSTED.withDescription(limits.rateLimitText(client, wait.getAsLong())),
          new Metadata());
      return new ServerCall.Listener<>() {};
    }
    if (!capped) {
      return next.startCall(call, headers);
    }
    CappedCall<ReqT, RespT> cappedCall = new CappedCall<>(call);
    ServerCall.Listener<ReqT> delegate = next.startCall(cappedCall, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      private long bytes;
      private boolean over;

      @Override
      public void onMessage(ReqT message) {
        if (over) {
          return;
        }
        bytes += message instanceof MessageLite m ? m.getSerializedSize() : 0;
        if (bytes > limits.maxUploadBytes()) {
          over = true;
          // The client's answer first; then the service sees the stream cancelled and discards
          // what it received. Whatever the service answers after that is dropped.
          cappedCall.closeFirst(
              Status.RESOURCE_EXHAUSTED.withDescription(limits.uploadText(client, method, bytes)));
          super.onCancel();
          return;
        }
        super.onMessage(message);
      }

      @Override
      public void onHalfClose() {
        if (!over) {
          super.onHalfClose();
        }
      }

      @Override
      public void onCancel() {
        if (!over) {
          super.onCancel();
        }
      }

      @Override
      public void onComplete() {
        if (!over) {
          super.onComplete();
        }
      }

      @Override
      public void onReady() {
        if (!over) {
          super.onReady();
        }
      }
    };
  }

  static String peerHost(SocketAddress address) {
    if (address instanceof InetSocketAddress inet) {
      return inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
    }
    return String.valueOf(address);
  }

  /** A call whose first close wins; what the service sends after it is dropped. */
  private static final class CappedCall<ReqT, RespT>
      extends ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT> {
    private boolean closed;

    CappedCall(ServerCall<ReqT, RespT> call) {
      super(call);
    }

    void closeFirst(Status status) {
      close(status, new Metadata());
    }

    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (!closed) {
        closed = true;
        super.close(status, trailers);
      }
    }

    @Override
    public synchronized void sendHeaders(Metadata headers) {
      if (!closed) {
        super.sendHeaders(headers);
      }
    }

    @Override
    public synchronized void sendMessage(RespT message) {
      if (!closed) {
        super.sendMessage(message);
      }
    }

    @Override
    public synchronized boolean isReady() {
      return !closed && super.isReady();
    }
  }
}
