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
      @QueryParam("pageSize") @DefaultValue("0") int pageSize,
      @QueryParam("pageToken") @DefaultValue("") String pageToken,
      @QueryParam("tag") @DefaultValue("") String tag) {
    return experiments.list(pageSize, pageToken, tag);
  }

  @GET
  @Path("/{id}")
  public ExperimentInfo get(@PathParam("id") long id) {
    return experiments.get(id);
  }

  @ServerExceptionMapper
  Response map(GraftException e) {
    int status = 409;
    if (e instanceof GraftException.NotFound) {
      status = 404;
    } else if (e instanceof GraftException.InvalidArgument) {
      status = 400;
    }
    return Response.status(status)
        .type(MediaType.APPLICATION_JSON)
        .entity(Map.of("error", e.getMessage()))
        .build();
  }
}
