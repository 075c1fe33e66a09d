package dev.graft.experiments;

import dev.graft.core.HttpErrors;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

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
    return experiments.list(HttpErrors.wholeInt("pageSize", pageSize), pageToken, tag);
  }

  @GET
  @Path("/{id}")
  public ExperimentInfo get(@PathParam("id") String id) {
    return experiments.get(HttpErrors.wholeNumber("experiment id", id));
  }
}
