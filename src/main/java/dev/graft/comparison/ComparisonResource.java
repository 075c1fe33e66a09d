package dev.graft.comparison;

import dev.graft.core.GraftException;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Map;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * Read-only JSON of strategy comparisons, for the dashboard: {@code GET /api/comparisons} ({@code
 * experimentId}, at most 100, newest first) and {@code GET /api/comparisons/{id}}.
 */
@Path("/api/comparisons")
@Produces(MediaType.APPLICATION_JSON)
public class ComparisonResource {

  private final Comparisons comparisons;

  ComparisonResource(Comparisons comparisons) {
    this.comparisons = comparisons;
  }

  @GET
  public List<ComparisonView> list(@QueryParam("experimentId") @DefaultValue("0") String id) {
    return comparisons.ids(number("experimentId", id), 100).stream().map(comparisons::get).toList();
  }

  @GET
  @Path("/{id}")
  public ComparisonView get(@PathParam("id") String id) {
    return comparisons.get(number("comparison id", id));
  }

  private static long number(String name, String value) {
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw new GraftException.InvalidArgument(name + " '" + value + "' is not a whole number");
    }
  }

  @ServerExceptionMapper
  Response map(GraftException e) {
    int status =
        e instanceof GraftException.NotFound
            ? 404
            : e instanceof GraftException.InvalidArgument ? 400 : 409;
    return Response.status(status)
        .type(MediaType.APPLICATION_JSON)
        .entity(Map.of("error", e.getMessage()))
        .build();
  }
}
