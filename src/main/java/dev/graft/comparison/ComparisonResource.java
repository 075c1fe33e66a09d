package dev.graft.comparison;

import dev.graft.core.HttpErrors;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.List;

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
    return comparisons.ids(HttpErrors.wholeNumber("experimentId", id), 100).stream()
        .map(comparisons::get)
        .toList();
  }

  @GET
  @Path("/{id}")
  public ComparisonView get(@PathParam("id") String id) {
    return comparisons.get(HttpErrors.wholeNumber("comparison id", id));
  }
}
