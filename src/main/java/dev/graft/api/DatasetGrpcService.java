package dev.graft.api;

import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetClassCount;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetHeader;
import dev.graft.api.v1.DatasetImageShape;
import dev.graft.api.v1.DatasetService;
import dev.graft.api.v1.DatasetTextStats;
import dev.graft.api.v1.DeleteDatasetRequest;
import dev.graft.api.v1.DeleteDatasetResponse;
import dev.graft.api.v1.GetDatasetRequest;
import dev.graft.api.v1.ListDatasetsRequest;
import dev.graft.api.v1.ListDatasetsResponse;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.UploadDatasetRequest;
import dev.graft.core.GraftException;
import dev.graft.data.DatasetInfo;
import dev.graft.data.DatasetKind;
import dev.graft.data.DatasetPage;
import dev.graft.data.DatasetSource;
import dev.graft.data.Datasets;
import dev.graft.data.ImageShape;
import dev.graft.data.RegisterRequest;
import dev.graft.data.ResizePolicy;
import dev.graft.data.Upload;
import dev.graft.data.UploadExample;
import dev.graft.data.UploadHeader;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import java.util.List;

/** gRPC adapter of {@link Datasets}. */
@GrpcService
@Blocking
public class DatasetGrpcService implements DatasetService {

  private final Datasets datasets;

  DatasetGrpcService(Datasets datasets) {
    this.datasets = datasets;
  }

  /**
   * Each message is handled as it arrives, on a worker thread, before the next one is requested:
   * examples go to disk at once and the stream is never collected in memory.
   */
  @Override
  public Uni<Dataset> uploadDataset(Multi<UploadDatasetRequest> request) {
    UploadStream stream = new UploadStream();
    return request
        .onItem()
        .invoke(stream::accept)
        .onTermination()
        .invoke(
            (failure, cancelled) -> {
              if (failure != null || cancelled) {
                stream.abort();
              }
            })
        .collect()
        .last()
        .map(last -> toProto(stream.finish()));
  }

  /**
   * The state of one upload stream: before the header, the upload, then committed. Only a stream
   * that ends right after a matching commit is stored; a cancelled one may end like a completed one
   * on the server, so the end of the stream alone never stores anything.
   */
  private final class UploadStream {
    private Upload upload;
    private long messages;
    private boolean committed;

    void accept(UploadDatasetRequest message) {
      long number = messages++;
      if (committed) {
        throw new GraftException.InvalidArgument(
            "message " + number + " follows the commit; the commit must be the last message");
      }
      switch (message.getPartCase()) {
        case HEADER:
          if (upload != null) {
            throw new GraftException.InvalidArgument(
                "message " + number + " is a second header; send the header only once, first");
          }
          upload = datasets.startUpload(header(message.getHeader()));
          break;
        case EXAMPLES:
          if (upload == null) {
            throw missingHeader();
          }
          for (DatasetExample e : message.getExamples().getExamplesList()) {
            upload.add(example(e));
          }
          break;
        case COMMIT:
          if (upload == null) {
            throw missingHeader();
          }
          long declared = message.getCommit().getExampleCount();
          if (declared != upload.count()) {
            throw new GraftException.InvalidArgument(
                "the commit says "
                    + declared
                    + " examples but "
                    + upload.count()
                    + " arrived; nothing was stored: send every example, then a commit with"
                    + " their number");
          }
          committed = true;
          break;
        default:
          throw new GraftException.InvalidArgument(
              "message " + number + " has no header, examples or commit");
      }
    }

    DatasetInfo finish() {
      if (upload == null) {
        throw missingHeader();
      }
      if (!committed) {
        upload.abort();
        throw new GraftException.InvalidArgument(
            "the upload ended without a commit after "
                + upload.count()
                + " examples; nothing was stored: end the stream with"
                + " commit {example_count} as its last message");
      }
      return upload.finish();
    }

    void abort() {
      if (upload != null) {
        upload.abort();
      }
    }
  }

  private static GraftException missingHeader() {
    return new GraftException.InvalidArgument(
        "the upload has no header: the first message must be a DatasetHeader (name, kind, class"
            + " names)");
  }

  private static UploadHeader header(DatasetHeader h) {
    return new UploadHeader(
        h.getName(),
        kind(h.getKind()),
        h.getClassNamesList(),
        h.hasImageShape() ? shape(h.getImageShape()) : null,
        policy(h.getResizePolicy()));
  }

  private static UploadExample example(DatasetExample e) {
    float[] features = new float[e.getFeaturesCount()];
    for (int i = 0; i < features.length; i++) {
      features[i] = e.getFeatures(i);
    }
    return new UploadExample(
        e.getLabelCase() == DatasetExample.LabelCase.LABEL_INDEX ? e.getLabelIndex() : null,
        e.getLabelCase() == DatasetExample.LabelCase.LABEL_NAME ? e.getLabelName() : null,
        e.getImage().toByteArray(),
        features,
        e.getText());
  }

  @Override
  public Uni<Dataset> registerDataset(RegisterDatasetRequest r) {
    return Uni.createFrom()
        .item(
            () ->
                toProto(
                    datasets.register(
                        new RegisterRequest(
                            r.getName(),
                            source(r.getSource()),
                            r.getPath(),
                            r.getLabelsPath(),
                            r.getClassNamesList(),
                            r.getLabelColumn(),
                            r.getTextColumn(),
                            r.hasImageShape() ? shape(r.getImageShape()) : null,
                            policy(r.getResizePolicy()),
                            r.getExamplesPerClass(),
                            r.getSeed()))));
  }

  @Override
  public Uni<ListDatasetsResponse> listDatasets(ListDatasetsRequest request) {
    return Uni.createFrom()
        .item(
            () -> {
              DatasetPage page = datasets.list(request.getPageSize(), request.getPageToken());
              return ListDatasetsResponse.newBuilder()
                  .addAllDatasets(
                      page.datasets().stream().map(DatasetGrpcService::toProto).toList())
                  .setNextPageToken(page.nextPageToken())
                  .build();
            });
  }

  @Override
  public Uni<Dataset> getDataset(GetDatasetRequest request) {
    return Uni.createFrom()
        .item(
            () -> {
              if (request.getId() != 0) {
                return toProto(datasets.get(request.getId()));
              }
              if (request.getName().isEmpty()) {
                throw new GraftException.InvalidArgument("give the dataset's id or its name");
              }
              return toProto(datasets.getByName(request.getName()));
            });
  }

  @Override
  public Uni<DeleteDatasetResponse> deleteDataset(DeleteDatasetRequest request) {
    return Uni.createFrom()
        .item(
            () ->
                DeleteDatasetResponse.newBuilder()
                    .setId(request.getId())
                    .setSizeBytes(datasets.delete(request.getId()))
                    .build());
  }

  private static DatasetKind kind(dev.graft.api.v1.DatasetKind kind) {
    switch (kind) {
      case DATASET_KIND_IMAGE:
        return DatasetKind.IMAGE;
      case DATASET_KIND_FEATURES:
        return DatasetKind.FEATURES;
      case DATASET_KIND_TEXT:
        return DatasetKind.TEXT;
      default:
        return null;
    }
  }

  private static dev.graft.api.v1.DatasetKind kind(DatasetKind kind) {
    switch (kind) {
      case IMAGE:
        return dev.graft.api.v1.DatasetKind.DATASET_KIND_IMAGE;
      case FEATURES:
        return dev.graft.api.v1.DatasetKind.DATASET_KIND_FEATURES;
      default:
        return dev.graft.api.v1.DatasetKind.DATASET_KIND_TEXT;
    }
  }

  private static ResizePolicy policy(dev.graft.api.v1.ResizePolicy policy) {
    return policy == dev.graft.api.v1.ResizePolicy.RESIZE_POLICY_STRETCH
        ? ResizePolicy.STRETCH
        : ResizePolicy.REJECT;
  }

  private static ImageShape shape(DatasetImageShape s) {
    return new ImageShape(s.getChannels(), s.getHeight(), s.getWidth());
  }

  private static DatasetSource source(dev.graft.api.v1.DatasetSource source) {
    if (source == dev.graft.api.v1.DatasetSource.DATASET_SOURCE_UNSPECIFIED
        || source == dev.graft.api.v1.DatasetSource.UNRECOGNIZED) {
      return null;
    }
    return DatasetSource.valueOf(source.name().substring("DATASET_SOURCE_".length()));
  }

  private static dev.graft.api.v1.DatasetSource source(DatasetSource source) {
    return dev.graft.api.v1.DatasetSource.valueOf("DATASET_SOURCE_" + source.name());
  }

  static Dataset toProto(DatasetInfo d) {
    Dataset.Builder b =
        Dataset.newBuilder()
            .setId(d.id())
            .setName(d.name())
            .setKind(kind(d.kind()))
            .setSource(source(d.source()))
            .addAllClassNames(d.classNames())
            .setExampleCount(d.exampleCount())
            .addAllExampleShape(d.exampleShape())
            .setSha256(d.sha256())
            .setSizeBytes(d.sizeBytes())
            .setCreateTime(ProtoTime.of(d.createdAt()));
    if (d.textStats() != null) {
      b.setTextStats(
          DatasetTextStats.newBuilder()
              .setMaxChars(d.textStats().maxChars())
              .setMeanChars(d.textStats().meanChars()));
    }
    List<String> names = d.classNames();
    for (int i = 0; i < names.size(); i++) {
      b.addClassCounts(
          DatasetClassCount.newBuilder().setName(names.get(i)).setCount(d.classCounts().get(i)));
    }
    return b.build();
  }
}
