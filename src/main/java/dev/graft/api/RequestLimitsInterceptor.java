package dev.graft.api;

import com.google.protobuf.MessageLite;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Holds unary calls to {@link RequestLimitsConfig}: a server-side deadline, and a cap on the bytes
 * of large request messages worked on at once. The bytes are held from the moment the message is
 * parsed until the answer is sent.
 */
@ApplicationScoped
@GlobalInterceptor
public class RequestLimitsInterceptor implements ServerInterceptor {

  private final Duration timeout;
  private final int largeMessageBytes;
  private final long maxLargeMessageBytes;
  private final ScheduledExecutorService timer;
  private long largeBytesInUse;

  @Inject
  RequestLimitsInterceptor(RequestLimitsConfig config) {
    this(config.requestTimeout(), config.largeMessageBytes(), config.maxLargeMessageBytes());
  }

  public RequestLimitsInterceptor(
      Duration timeout, int largeMessageBytes, long maxLargeMessageBytes) {
    this.timeout = timeout;
    this.largeMessageBytes = largeMessageBytes;
    this.maxLargeMessageBytes = maxLargeMessageBytes;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "graft-request-timeouts");
              t.setDaemon(true);
              return t;
            });
  }

  @PreDestroy
  public void close() {
    timer.shutdownNow();
  }

  /** Bytes of large request messages being worked on now. */
  public synchronized long largeBytesInUse() {
    return largeBytesInUse;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    if (call.getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY) {
      return next.startCall(call, headers);
    }
    LimitedCall<ReqT, RespT> limited = new LimitedCall<>(call);
    ScheduledFuture<?> deadline =
        timer.schedule(
            () ->
                limited.closeIfOpen(
                    Status.DEADLINE_EXCEEDED.withDescription(
                        "the server did not finish this call within "
                            + timeout.toMillis()
                            + " ms (graft.grpc.request-timeout)")),
            timeout.toNanos(),
            TimeUnit.NANOSECONDS);
    limited.onClose = () -> deadline.cancel(false);
    ServerCall.Listener<ReqT> delegate = next.startCall(limited, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onMessage(ReqT message) {
        int size = message instanceof MessageLite m ? m.getSerializedSize() : 0;
        if (size >= largeMessageBytes) {
          if (!reserve(size)) {
            limited.closeIfOpen(
                Status.RESOURCE_EXHAUSTED.withDescription(
                    "large requests of "
                        + largeBytesInUse()
                        + " bytes are being worked on; this one's "
                        + size
                        + " bytes would exceed graft.grpc.max-large-message-bytes ("
                        + maxLargeMessageBytes
                        + "): retry shortly"));
            return;
          }
          Runnable cancelDeadline = limited.onClose;
          limited.onClose =
              () -> {
                cancelDeadline.run();
                release(size);
              };
          if (limited.isClosed()) { // the deadline came first
            limited.onClose.run();
            return;
          }
        }
        super.onMessage(message);
      }
    };
  }

  private synchronized boolean reserve(int size) {
    // One message is always let through alone, whatever its size: the inbound limit caps it.
    if (largeBytesInUse > 0 && largeBytesInUse + size > maxLargeMessageBytes) {
      return false;
    }
    largeBytesInUse += size;
    return true;
  }

  private synchronized void release(int size) {
    largeBytesInUse -= size;
  }

  /**
   * A call that may be closed by the service or by the deadline, whichever comes first; what comes
   * after the close is dropped. Its methods are serialised, since the deadline fires on another
   * thread.
   */
  private static final class LimitedCall<ReqT, RespT>
      extends ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT> {
    private boolean closed;
    private boolean headersSent;
    volatile Runnable onClose = () -> {};

    LimitedCall(ServerCall<ReqT, RespT> call) {
      super(call);
    }

    @Override
    public synchronized void sendHeaders(Metadata headers) {
      if (!closed && !headersSent) {
        headersSent = true;
        super.sendHeaders(headers);
      }
    }

    @Override
    public synchronized void sendMessage(RespT message) {
      if (!closed) {
        if (!headersSent) {
          sendHeaders(new Metadata());
        }
        super.sendMessage(message);
      }
    }

    @Override
    public void close(Status status, Metadata trailers) {
      boolean first;
      synchronized (this) {
        first = !closed;
        if (first) {
          closed = true;
          super.close(status, trailers);
        }
      }
      if (first) {
        onClose.run();
      }
    }

    synchronized boolean isClosed() {
      return closed;
    }

    void closeIfOpen(Status status) {
      close(status, new Metadata());
    }

    @Override
    public synchronized boolean isReady() {
      return !closed && super.isReady();
    }
  }
}
