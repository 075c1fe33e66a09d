package dev.graft.api;

import dev.graft.api.v1.CompareRunsRequest;
import dev.graft.api.v1.CompareRunsResponse;
import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.Experiment;
import dev.graft.api.v1.ExperimentService;
import dev.graft.api.v1.GetExperimentRequest;
import dev.graft.api.v1.GetMetricHistoryRequest;
import dev.graft.api.v1.GetMetricHistoryResponse;
import dev.graft.api.v1.ListExperimentsRequest;
import dev.graft.api.v1.ListExperimentsResponse;
import dev.graft.api.v1.MetricComparison;
import dev.graft.api.v1.MetricHistory;
import dev.graft.api.v1.MetricPointValue;
import dev.graft.api.v1.ParamDifference;
import dev.graft.api.v1.SearchRunsRequest;
import dev.graft.api.v1.SearchRunsResponse;
import dev.graft.api.v1.UpdateExperimentRequest;
import dev.graft.experiments.ExperimentInfo;
import dev.graft.experiments.ExperimentPage;
import dev.graft.experiments.Experiments;
import dev.graft.experiments.MetricPoint;
import dev.graft.experiments.search.RunSearch;
import dev.graft.training.RunHistory;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** gRPC adapter of {@link Experiments}. */
@GrpcService
@Blocking
public class ExperimentGrpcService implements ExperimentService {

  private final Experiments experiments;
  private final RunHistory history;

  ExperimentGrpcService(Experiments experiments, RunHistory history) {
    this.experiments = experiments;
    this.history = history;
  }

  @Override
  public Uni<SearchRunsResponse> searchRuns(SearchRunsRequest request) {
    return Uni.createFrom()
        .item(
            () -> {
              RunHistory.SearchPage page =
                  history.search(
                      new RunSearch.Query(
                          request.getFilter(),
                          request.getOrderByList(),
                          request.getExperimentIdsList(),
                          request.getPageSize(),
                          request.getPageToken()));
              return SearchRunsResponse.newBuilder()
                  .addAllRuns(page.runs().stream().map(TrainingGrpcService::toProto).toList())
                  .setNextPageToken(page.nextPageToken())
                  .build();
            });
  }

  @Override
  public Uni<GetMetricHistoryResponse> getMetricHistory(GetMetricHistoryRequest request) {
    return Uni.createFrom()
        .item(
            () -> {
              Map<String, List<MetricPoint>> points =
                  history.history(request.getRunId(), request.getKeysList());
              GetMetricHistoryResponse.Builder out =
                  GetMetricHistoryResponse.newBuilder().setRunId(request.getRunId());
              points.forEach(
                  (key, list) -> {
                    MetricHistory.Builder h = MetricHistory.newBuilder().setKey(key);
                    for (MetricPoint p : list) {
                      h.addPoints(
                          MetricPointValue.newBuilder()
                              .setStep(p.step)
                              .setEpoch(p.epoch)
                              .setValue(p.value)
                              .setTime(ProtoTime.of(p.recordedAt)));
                    }
                    out.addMetrics(h);
                  });
              return out.build();
            });
  }

  @Override
  public Uni<CompareRunsResponse> compareRuns(CompareRunsRequest request) {
    return Uni.createFrom()
        .item(
            () -> {
              RunHistory.Comparison c = history.compare(request.getRunIdsList());
              CompareRunsResponse.Builder out =
                  CompareRunsResponse.newBuilder()
                      .addAllRuns(c.runs().stream().map(TrainingGrpcService::toProto).toList())
                      .setEqualParamCount(c.equalParams())
                      .setSameSplit(c.sameSplit())
                      .addAllSplitHashes(c.splitHashes());
              for (RunHistory.Difference d : c.differences()) {
                out.addDifferences(
                    ParamDifference.newBuilder().setKey(d.key()).addAllValues(d.values()));
              }
              for (RunHistory.MetricRow m : c.metrics()) {
                out.addMetrics(
                    MetricComparison.newBuilder()
                        .setKey(m.key())
                        .setHigherIsBetter(m.higherIsBetter())
                        .addAllLast(m.last())
                        .addAllBest(m.best())
                        .setBestRunIndex(m.bestRun()));
              }
              return out.build();
            });
  }

  @Override
  public Uni<Experiment> createExperiment(CreateExperimentRequest request) {
    return Uni.createFrom()
        .item(
            () ->
                toProto(
                    experiments.create(
                        request.getName(), request.getDescription(), request.getTagsList())));
  }

  @Override
  public Uni<Experiment> getExperiment(GetExperimentRequest request) {
    return Uni.createFrom().item(() -> toProto(experiments.get(request.getId())));
  }

  @Override
  public Uni<ListExperimentsResponse> listExperiments(ListExperimentsRequest request) {
    return Uni.createFrom()
        .item(
            () -> {
              ExperimentPage page =
                  experiments.list(request.getPageSize(), request.getPageToken(), request.getTag());
              return ListExperimentsResponse.newBuilder()
                  .addAllExperiments(
                      page.experiments().stream().map(ExperimentGrpcService::toProto).toList())
                  .setNextPageToken(page.nextPageToken())
                  .build();
            });
  }

  @Override
  public Uni<Experiment> updateExperiment(UpdateExperimentRequest request) {
    return Uni.createFrom()
        .item(
            () ->
                toProto(
                    experiments.update(
                        request.getId(),
                        request.getUpdateDescription()
                            ? Optional.of(request.getDescription())
                            : Optional.empty(),
                        request.getUpdateTags()
                            ? Optional.of(request.getTagsList())
                            : Optional.empty())));
  }

  static Experiment toProto(ExperimentInfo e) {
    return Experiment.newBuilder()
        .setId(e.id())
        .setName(e.name())
        .setDescription(e.description())
        .addAllTags(e.tags())
        .setCreateTime(ProtoTime.of(e.createdAt()))
        .setUpdateTime(ProtoTime.of(e.updatedAt()))
        .setRunCount(e.runCount())
        .build();
  }
}
