package dev.graft.api;

import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.Experiment;
import dev.graft.api.v1.ExperimentService;
import dev.graft.api.v1.GetExperimentRequest;
import dev.graft.api.v1.ListExperimentsRequest;
import dev.graft.api.v1.ListExperimentsResponse;
import dev.graft.api.v1.UpdateExperimentRequest;
import dev.graft.experiments.ExperimentInfo;
import dev.graft.experiments.ExperimentPage;
import dev.graft.experiments.Experiments;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import java.util.Optional;

/** gRPC adapter of {@link Experiments}. */
@GrpcService
@Blocking
public class ExperimentGrpcService implements ExperimentService {

  private final Experiments experiments;

  ExperimentGrpcService(Experiments experiments) {
    this.experiments = experiments;
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
