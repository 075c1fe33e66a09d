package dev.graft.core;

/**
 * Base of every domain exception. Each subclass stands for one kind of failure, which the API maps
 * to one gRPC status; the message says what to fix.
 */
public abstract class GraftException extends RuntimeException {

  protected GraftException(String message) {
    super(message);
  }

  protected GraftException(String message, Throwable cause) {
    super(message, cause);
  }

  /** An id, name or alias that does not exist. */
  public static final class NotFound extends GraftException {
    public NotFound(String what, Object key) {
      super(what + " " + key + " does not exist");
    }
  }

  /** A request whose arguments are wrong in themselves, whatever the state of the service. */
  public static final class InvalidArgument extends GraftException {
    public InvalidArgument(String message) {
      super(message);
    }

    public InvalidArgument(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Something that must be unique already exists. */
  public static final class AlreadyExists extends GraftException {
    public AlreadyExists(String message) {
      super(message);
    }
  }

  /** The request is valid but the current state does not allow it. */
  public static final class FailedPrecondition extends GraftException {
    public FailedPrecondition(String message) {
      super(message);
    }
  }

  /** The caller may not touch that resource, such as a path outside the allowed root. */
  public static final class PermissionDenied extends GraftException {
    public PermissionDenied(String message) {
      super(message);
    }
  }

  /** A size or count limit was exceeded. */
  public static final class ResourceExhausted extends GraftException {
    public ResourceExhausted(String message) {
      super(message);
    }
  }

  /** A dependency such as the database is not reachable right now; retrying may help. */
  public static final class Unavailable extends GraftException {
    public Unavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
