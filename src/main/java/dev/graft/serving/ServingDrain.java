package dev.graft.serving;

import dev.graft.core.RoleConfig;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.jboss.logging.Logger;

/**
 * Graceful shutdown of serving: on SIGTERM the process turns not ready (gRPC health NOT_SERVING,
 * {@code /q/health/ready} DOWN), refuses new inference calls with UNAVAILABLE (retryable: another
 * replica answers them) and waits for the inference calls and streams in flight to finish, for at
 * most {@code graft.serving.drain-timeout}. Only then does the gRPC server stop, cancelling what is
 * left. It runs before every other shutdown step (the gRPC server itself stops after the shutdown
 * observers).
 */
@ApplicationScoped
@GlobalInterceptor
@Readiness
public class ServingDrain implements ServerInterceptor, HealthCheck {

  private static final Logger LOG = Logger.getLogger(ServingDrain.class);

  /** The services whose calls are drained (the others end with the control plane's own steps). */
  static final Set<String> SERVICES =
      Set.of("graft.v1.InferenceService", "inference.GRPCInferenceService");

  private final AtomicBoolean draining = new AtomicBoolean();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Object lock = new Object();
  private final Duration timeout;
  private final boolean serves;

  @jakarta.inject.Inject
  ServingDrain(ServingConfig config, RoleConfig roles) {
    this(config.drainTimeout(), roles.role().serves());
  }

  ServingDrain(Duration timeout, boolean serves) {
    this.timeout = timeout;
    this.serves = serves;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (!SERVICES.contains(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers);
    }
    if (draining.get()) {
      call.close(
          Status.UNAVAILABLE.withDescription(
              "this Graft replica is shutting down; retry the call (another replica serves it)"),
          new Metadata());
      return new ServerCall.Listener<>() {};
    }
    inFlight.incrementAndGet();
    AtomicBoolean ended = new AtomicBoolean();
    Runnable end =
        () -> {
          if (ended.compareAndSet(false, true) && inFlight.decrementAndGet() == 0) {
            synchronized (lock) {
              lock.notifyAll();
            }
          }
        };
    ServerCall.Listener<Q> delegate;
    try {
      delegate = next.startCall(call, headers);
    } catch (RuntimeException e) {
      end.run();
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onComplete() {
        try {
          super.onComplete();
        } finally {
          end.run();
        }
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          end.run();
        }
      }
    };
  }

  /** Inference calls and streams running now. */
  int inFlight() {
    return inFlight.get();
  }

  boolean draining() {
    return draining.get();
  }

  /**
   * Stops taking inference calls and waits for those in flight; returns whether they all ended
   * within the timeout.
   */
  boolean drain() {
    draining.set(true);
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (inFlight.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        try {
          lock.wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    return true;
  }

  void onStop(@Observes @Priority(0) ShutdownEvent event) {
    if (!serves) {
      return;
    }
    int running = inFlight.get();
    long start = System.nanoTime();
    boolean drained = drain();
    double seconds = (System.nanoTime() - start) / 1e9;
    if (drained) {
      LOG.infof(
          "Serving drained: %d inference calls in flight at SIGTERM ended in %.1f s",
          running, seconds);
    } else {
      LOG.warnf(
          "Serving drain timed out after %.1f s (graft.serving.drain-timeout): %d inference calls"
              + " still running are cancelled",
          seconds, inFlight.get());
    }
  }

  @Override
  public HealthCheckResponse call() {
    return HealthCheckResponse.named("serving-drain")
        .status(!draining.get())
        .withData("in_flight", inFlight.get())
        .build();
  }
}
