package dev.graft.experiments;

import dev.graft.core.GraftException;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.Map;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Read-only JSON view of the experiment history, for dashboards and scripts. */
@Path("/api/experiments")
@Produces(MediaType.APPLICATION_JSON)
public class ExperimentHistoryResource {

  private final Experiments experiments;

  ExperimentHistoryResource(Experiments experiments) {
    this.experiments = experiments;
  }

  @GET
  public ExperimentPage list(
      @QueryParam("pageSize") @DefaultValue("0") String pageSize,
      @QueryParam("pageToken") @DefaultValue("") String pageToken,
      @QueryParam("tag") @DefaultValue("") String tag) {
    return experiments.list((int) number("pageSize", pageSize), pageToken, tag);
  }

  @GET
  @Path("/{id}")
  public ExperimentInfo get(@PathParam("id") String id) {
    return experiments.get(number("experiment id", id));
  }

  // Parsed here rather than by JAX-RS, which answers a malformed number with a bare 404.
  private static long number(String what, String value) {
    try {
      long n = Long.parseLong(value.trim());
      if (what.equals("pageSize") && (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE)) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new GraftException.InvalidArgument(
          what + " must be a whole number, got '" + value + "'");
    }
  }

  @ServerExceptionMapper
  Response map(GraftException e) {
    int status = 409;
    if (e instanceof GraftException.NotFound) {
      status = 404;
    } else if (e instanceof GraftException.InvalidArgument) {
      status = 400;
    } else if (e instanceof GraftException.Unavailable) {
      status = 503;
    }
    return Response.status(status)
        .type(MediaType.APPLICATION_JSON)
        .entity(Map.of("error", e.getMessage()))
        .build();
  }
}
