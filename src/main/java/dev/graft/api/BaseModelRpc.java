package dev.graft.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.api.v1.BaseModel;
import dev.graft.api.v1.ImagePreprocessing;
import dev.graft.api.v1.ImportBaseModelHeader;
import dev.graft.api.v1.ImportBaseModelRequest;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.core.GraftException;
import dev.graft.data.Preprocessing;
import dev.graft.model.BaseModelImporter;
import dev.graft.model.BaseModelInfo;
import dev.graft.training.RunSpec;
import dev.graft.training.Runs;
import dev.graft.training.Strategy;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;

/** The base-model half of ModelService: mapping and the import stream. */
final class BaseModelRpc {

  private static final ObjectMapper JSON = new ObjectMapper();

  private BaseModelRpc() {}

  static BaseModel toProto(BaseModelInfo b) {
    BaseModel.Builder out =
        BaseModel.newBuilder()
            .setId(b.id())
            .setName(b.name())
            .setArchitecture(b.architecture())
            .setSource(b.source())
            .setSha256(b.sha256())
            .setFeatureTensor(b.featureTensor())
            .setInputSpec(ModelGrpcService.toStruct(b.inputSpec()))
            .addAllClassNames(b.classNames())
            .putAllMetrics(b.metrics())
            .setPretrainRunId(b.pretrainRunId())
            .setCreateTime(ProtoTime.of(b.createdAt()));
    if (!b.preprocessing().isEmpty()) {
      Preprocessing p = preprocessing(b.preprocessing());
      ImagePreprocessing.Builder ip =
          ImagePreprocessing.newBuilder()
              .setChannels(p.channels())
              .setHeight(p.height())
              .setWidth(p.width())
              .setScale(p.scale());
      for (float m : p.mean()) {
        ip.addMean(m);
      }
      for (float s : p.std()) {
        ip.addStd(s);
      }
      out.setPreprocessing(ip);
    }
    return out.build();
  }

  private static Preprocessing preprocessing(Map<String, Object> stored) {
    try {
      return Preprocessing.fromJson(JSON.writeValueAsString(stored));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The header's preprocessing, checked, as stored; empty when none was given. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> preprocessing(ImportBaseModelHeader header) {
    if (!header.hasPreprocessing()) {
      return Map.of();
    }
    ImagePreprocessing ip = header.getPreprocessing();
    float[] mean = new float[ip.getMeanCount()];
    float[] std = new float[ip.getStdCount()];
    for (int i = 0; i < mean.length; i++) {
      mean[i] = ip.getMean(i);
    }
    for (int i = 0; i < std.length; i++) {
      std[i] = ip.getStd(i);
    }
    Preprocessing p =
        new Preprocessing(
            ip.getChannels(), ip.getHeight(), ip.getWidth(), ip.getScale(), mean, std);
    try {
      return JSON.readValue(p.toJson(), Map.class);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Receives the header, chunks, then the commit; registers when the stream ends right after a
   * matching commit; discards on any failure, on cancel and on an end without a commit.
   */
  static StreamObserver<ImportBaseModelRequest> importer(
      BaseModelImporter importer, StreamObserver<BaseModel> response) {
    return new StreamObserver<>() {
      private BaseModelImporter.Upload upload;
      private boolean failed;
      private boolean committed;

      @Override
      public void onNext(ImportBaseModelRequest part) {
        if (failed) {
          return;
        }
        try {
          if (committed) {
            throw new GraftException.InvalidArgument(
                "a message follows the commit; the commit must be the last message");
          }
          if (part.hasHeader()) {
            if (upload != null) {
              throw new GraftException.InvalidArgument("the header was sent twice; send it once");
            }
            ImportBaseModelHeader h = part.getHeader();
            upload =
                importer.start(
                    new BaseModelImporter.Header(
                        h.getName(),
                        h.getFeatureTensor(),
                        preprocessing(h),
                        h.getInputShapeList(),
                        h.getClassNamesList()));
          } else if (upload == null) {
            throw new GraftException.InvalidArgument(
                "the first message must be the header (name, feature_tensor, ...)");
          } else if (part.hasCommit()) {
            upload.commit(part.getCommit().getSizeBytes(), part.getCommit().getSha256());
            committed = true;
          } else {
            upload.write(part.getChunk().toByteArray());
          }
        } catch (RuntimeException e) {
          fail(e);
        }
      }

      @Override
      public void onError(Throwable t) {
        discard();
      }

      @Override
      public void onCompleted() {
        if (failed) {
          return;
        }
        try {
          if (upload == null) {
            throw new GraftException.InvalidArgument("no header was sent");
          }
          if (!committed) {
            throw new GraftException.InvalidArgument(
                "the import ended without a commit; nothing was stored: end the stream with"
                    + " commit {size_bytes, sha256} of the whole file as its last message");
          }
          if (response instanceof ServerCallStreamObserver<BaseModel> call && call.isCancelled()) {
            discard();
            return;
          }
          BaseModel result = toProto(upload.finish());
          discard();
          response.onNext(result);
          response.onCompleted();
        } catch (RuntimeException e) {
          fail(e);
        }
      }

      private void fail(RuntimeException e) {
        failed = true;
        discard();
        ModelGrpcService.fail(response, e);
      }

      private void discard() {
        if (upload != null) {
          upload.close();
          upload = null;
        }
      }
    };
  }

  static Run pretrain(Runs runs, PretrainBaseModelRequest r) {
    RunSpec base =
        TrainingGrpcService.toSpec(
            StartRunRequest.newBuilder()
                .setExperimentId(r.getExperimentId())
                .setName("pretrain-" + r.getName())
                .setDataset(r.getDataset())
                .setStrategy(dev.graft.api.v1.Strategy.FROM_SCRATCH)
                .setHyperParameters(r.getHyperParameters())
                .setSplit(r.getSplit())
                .setSeed(r.getSeed())
                .setDevice(r.getDevice())
                .setModelName(r.getName())
                .build());
    RunSpec spec =
        new RunSpec(
            base.experimentId(),
            base.name(),
            "",
            r.getArchitecture(),
            base.dataset(),
            Strategy.PRETRAINING,
            0,
            List.of(),
            base.head(),
            base.hyper(),
            base.split(),
            base.seed(),
            base.device(),
            base.modelName());
    return TrainingGrpcService.toProto(runs.start(spec));
  }
}
