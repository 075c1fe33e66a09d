package dev.graft.core;

import io.vertx.core.json.JsonObject;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.Map;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * The JSON HTTP endpoints' errors: a {@link GraftException} becomes {@code {"error": "..."}} with
 * the status that matches its kind; and query or path numbers parsed here rather than by JAX-RS,
 * which answers a malformed number with a bare 404.
 */
public final class HttpErrors {

  /** One mapper for every resource. */
  @ServerExceptionMapper
  public Response map(GraftException e) {
    int status = 409;
    if (e instanceof GraftException.NotFound) {
      status = 404;
    } else if (e instanceof GraftException.InvalidArgument) {
      status = 400;
    } else if (e instanceof GraftException.PermissionDenied) {
      status = 403;
    } else if (e instanceof GraftException.ResourceExhausted) {
      status = 429;
    } else if (e instanceof GraftException.Unavailable) {
      status = 503;
    }
    return Response.status(status)
        .type(MediaType.APPLICATION_JSON)
        .entity(Map.of("error", e.getMessage()))
        .build();
  }

  /**
   * The body of every HTTP error, {@code {"error": "..."}}, for code that answers outside JAX-RS.
   */
  public static String json(String message) {
    return new JsonObject().put("error", message).encode();
  }

  /** {@code value} as a whole number; INVALID_ARGUMENT (400) naming {@code what} otherwise. */
  public static long wholeNumber(String what, String value) {
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw new GraftException.InvalidArgument(
          what + " must be a whole number, got '" + value + "'");
    }
  }

  /** {@code value} as an int (page sizes); INVALID_ARGUMENT (400) naming {@code what} otherwise. */
  public static int wholeInt(String what, String value) {
    long n = wholeNumber(what, value);
    if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
      throw new GraftException.InvalidArgument(
          what + " must be a whole number, got '" + value + "'");
    }
    return (int) n;
  }
}
