package dev.graft.training;

import dev.graft.core.HttpErrors;
import dev.graft.experiments.search.RunSearch;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code GET /api/runs?filter=...&orderBy=...&pageSize=...&pageToken=...&experimentId=...}: the
 * SearchRuns language over HTTP, for scripts and the dashboard.
 */
@Path("/api/runs")
@Produces(MediaType.APPLICATION_JSON)
public class RunHistoryResource {

  private final RunHistory history;
  private final Runs runs;
  private final ModelVersions versions;

  RunHistoryResource(RunHistory history, Runs runs, ModelVersions versions) {
    this.history = history;
    this.runs = runs;
    this.versions = versions;
  }

  /** A model version a run produced, as the lineage shows it (no server paths). */
  public record Produced(
      String modelName,
      int version,
      String sha256,
      long sizeBytes,
      double parityMaxAbsDiff,
      List<String> aliases,
      Instant createdAt) {}

  /** One run with its full metric history and what it produced. */
  public record RunDetail(RunView run, List<Produced> modelVersions) {}

  /** {@code GET /api/runs/{id}}: the run, every metric point, confusion matrix, lineage. */
  @GET
  @Path("/{id}")
  public RunDetail get(@PathParam("id") String id) {
    long runId = HttpErrors.wholeNumber("run id", id);
    RunView view = runs.get(runId);
    List<Produced> produced = new ArrayList<>();
    for (ModelVersionInfo v : versions.listByRun(runId)) {
      produced.add(
          new Produced(
              v.modelName(),
              v.version(),
              v.sha256(),
              v.sizeBytes(),
              v.parityMaxAbsDiff(),
              v.aliases(),
              v.createdAt()));
    }
    return new RunDetail(view, produced);
  }

  /** A page of runs: each with its configuration and each metric's last value. */
  public record RunsPage(List<RunView> runs, String nextPageToken) {}

  @GET
  public RunsPage search(
      @QueryParam("filter") @DefaultValue("") String filter,
      @QueryParam("orderBy") List<String> orderBy,
      @QueryParam("pageSize") @DefaultValue("0") String pageSize,
      @QueryParam("pageToken") @DefaultValue("") String pageToken,
      @QueryParam("experimentId") List<String> experimentIds) {
    RunHistory.SearchPage page =
        history.search(
            new RunSearch.Query(
                filter,
                orderBy == null ? List.of() : orderBy,
                longs("experimentId", experimentIds),
                HttpErrors.wholeInt("pageSize", pageSize),
                pageToken));
    return new RunsPage(page.runs(), page.nextPageToken());
  }

  private static List<Long> longs(String name, List<String> values) {
    List<Long> out = new ArrayList<>();
    if (values != null) {
      for (String v : values) {
        out.add(HttpErrors.wholeNumber(name, v));
      }
    }
    return out;
  }
}
