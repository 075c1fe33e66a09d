package dev.graft.api;

import dev.graft.core.GraftException;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.quarkus.grpc.ExceptionHandler;
import io.quarkus.grpc.ExceptionHandlerProvider;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.jboss.logging.Logger;

/**
 * The one place where exceptions become gRPC statuses, for every service. Domain exceptions keep
 * their message, which says what to fix; anything unexpected is logged with its stack trace here
 * and reaches the client as INTERNAL without one.
 */
@ApplicationScoped
public class GrpcErrorMapper implements ExceptionHandlerProvider {

  private static final Logger LOG = Logger.getLogger(GrpcErrorMapper.class);

  @Override
  public <ReqT, RespT> ExceptionHandler<ReqT, RespT> createHandler(
      ServerCall.Listener<ReqT> listener, ServerCall<ReqT, RespT> call, Metadata metadata) {
    return new ExceptionHandler<>(listener, call, metadata) {
      @Override
      protected void handleException(
          Throwable failure, ServerCall<ReqT, RespT> serverCall, Metadata trailers) {
        StatusException mapped = toStatusException(failure);
        Metadata out = mapped.getTrailers() == null ? new Metadata() : mapped.getTrailers();
        try {
          serverCall.close(mapped.getStatus(), out);
        } catch (IllegalStateException alreadyClosed) {
          LOG.debug("call already closed", alreadyClosed);
        }
      }
    };
  }

  @Override
  public Throwable transform(Throwable failure) {
    return toStatusException(failure);
  }

  /** The status a client sees for this failure. */
  public static StatusException toStatusException(Throwable failure) {
    return toStatus(failure).asException();
  }

  static Status toStatus(Throwable failure) {
    if (failure instanceof StatusException se) {
      return se.getStatus();
    }
    if (failure instanceof StatusRuntimeException sre) {
      return sre.getStatus();
    }
    GraftException domain = find(failure, GraftException.class);
    if (domain != null) {
      return codeOf(domain).withDescription(domain.getMessage());
    }
    if (isConnectionFailure(failure)) {
      LOG.warn("Experiment store unreachable: " + failure);
      return Status.UNAVAILABLE.withDescription(
          "the experiment store (PostgreSQL) is not reachable right now; retry shortly");
    }
    LOG.error("Unexpected failure in a gRPC call", failure);
    return Status.INTERNAL.withDescription(
        "internal error (" + failure.getClass().getSimpleName() + "); see the server log");
  }

  private static Status codeOf(GraftException e) {
    if (e instanceof GraftException.NotFound) {
      return Status.NOT_FOUND;
    }
    if (e instanceof GraftException.InvalidArgument) {
      return Status.INVALID_ARGUMENT;
    }
    if (e instanceof GraftException.AlreadyExists) {
      return Status.ALREADY_EXISTS;
    }
    if (e instanceof GraftException.FailedPrecondition) {
      return Status.FAILED_PRECONDITION;
    }
    if (e instanceof GraftException.PermissionDenied) {
      return Status.PERMISSION_DENIED;
    }
    if (e instanceof GraftException.ResourceExhausted) {
      return Status.RESOURCE_EXHAUSTED;
    }
    if (e instanceof GraftException.Unavailable) {
      return Status.UNAVAILABLE;
    }
    return Status.INTERNAL;
  }

  private static boolean isConnectionFailure(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof SQLTransientConnectionException) {
        return true;
      }
      if (t instanceof SQLException sql
          && sql.getSQLState() != null
          && sql.getSQLState().startsWith("08")) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  private static <T extends Throwable> T find(Throwable failure, Class<T> type) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
  }
}
