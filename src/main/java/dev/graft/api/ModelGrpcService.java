package dev.graft.api;

import com.google.protobuf.ByteString;
import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.graft.api.v1.BaseModel;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.DownloadModelVersionResponse;
import dev.graft.api.v1.GetBaseModelRequest;
import dev.graft.api.v1.GetModelVersionRequest;
import dev.graft.api.v1.ImportBaseModelRequest;
import dev.graft.api.v1.ListBaseModelsRequest;
import dev.graft.api.v1.ListBaseModelsResponse;
import dev.graft.api.v1.ListModelVersionsRequest;
import dev.graft.api.v1.ListModelVersionsResponse;
import dev.graft.api.v1.ModelFile;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.ModelVersion;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.SetModelAliasRequest;
import dev.graft.core.GraftException;
import dev.graft.model.BaseModelImporter;
import dev.graft.model.BaseModels;
import dev.graft.model.ModelRef;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.training.Runs;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * gRPC adapter of {@link ModelVersions}. Written on grpc-java's stub base (not Mutiny) so that the
 * download honours the client's flow control: chunks are read only while the transport is ready.
 */
@GrpcService
public class ModelGrpcService extends ModelServiceGrpc.ModelServiceImplBase {

  private static final int DEFAULT_CHUNK = 1 << 20;
  private static final int MIN_CHUNK = 4 << 10;
  private static final int MAX_CHUNK = 4 << 20;

  private final ModelVersions versions;
  private final BaseModels baseModels;
  private final BaseModelImporter importer;
  private final Runs runs;

  ModelGrpcService(
      ModelVersions versions, BaseModels baseModels, BaseModelImporter importer, Runs runs) {
    this.baseModels = baseModels;
    this.importer = importer;
    this.runs = runs;
    this.versions = versions;
  }

  @Override
  @Blocking
  public void listModelVersions(
      ListModelVersionsRequest request, StreamObserver<ListModelVersionsResponse> response) {
    try {
      List<ModelVersionInfo> found;
      if (request.hasRunId()) {
        if (!request.getModelName().isEmpty()) {
          throw new GraftException.InvalidArgument("set either model_name or run_id, not both");
        }
        found = versions.listByRun(request.getRunId());
      } else if (request.getModelName().isEmpty()) {
        throw new GraftException.InvalidArgument("set model_name or run_id");
      } else {
        found = versions.list(request.getModelName());
      }
      response.onNext(
          ListModelVersionsResponse.newBuilder()
              .addAllVersions(found.stream().map(ModelGrpcService::toProto).toList())
              .build());
      response.onCompleted();
    } catch (RuntimeException e) {
      fail(response, e);
    }
  }

  @Override
  @Blocking
  public void getModelVersion(
      GetModelVersionRequest request, StreamObserver<ModelVersion> response) {
    reply(response, () -> toProto(versions.resolve(toRef(request.getModel()))));
  }

  @Override
  @Blocking
  public void setModelAlias(SetModelAliasRequest request, StreamObserver<ModelVersion> response) {
    reply(
        response,
        () ->
            toProto(
                versions.setAlias(
                    request.getModelName(), request.getAlias(), request.getVersion())));
  }

  @Override
  @Blocking
  public void downloadModelVersion(
      DownloadModelVersionRequest request, StreamObserver<DownloadModelVersionResponse> response) {
    try {
      int chunk = request.getChunkSize() == 0 ? DEFAULT_CHUNK : request.getChunkSize();
      if (chunk < MIN_CHUNK || chunk > MAX_CHUNK) {
        throw new GraftException.InvalidArgument(
            "chunk_size must be " + MIN_CHUNK + "-" + MAX_CHUNK + " bytes (or 0), got " + chunk);
      }
      ModelVersionInfo info = versions.resolve(toRef(request.getModel()));
      String file = request.getFile().isEmpty() ? ModelVersionInfo.ONNX_FILE : request.getFile();
      new Download(
              info, file, chunk, (ServerCallStreamObserver<DownloadModelVersionResponse>) response)
          .start();
    } catch (RuntimeException | IOException e) {
      fail(response, e);
    }
  }

  /** Sends chunks while the client keeps up; hashes what it sends and checks it at the end. */
  private static final class Download {
    private final ModelVersionInfo info;
    private final String file;
    private final String expectedSha256;
    private final ServerCallStreamObserver<DownloadModelVersionResponse> out;
    private final InputStream in;
    private final byte[] buffer;
    private final MessageDigest sha;
    private final long size;
    private boolean done;

    Download(
        ModelVersionInfo info,
        String file,
        int chunk,
        ServerCallStreamObserver<DownloadModelVersionResponse> out)
        throws IOException {
      this.info = info;
      this.file = file;
      this.out = out;
      java.nio.file.Path path;
      if (file.equals(ModelVersionInfo.ONNX_FILE)) {
        path = info.onnxPath();
        this.expectedSha256 = info.sha256();
      } else if (info.companions().containsKey(file)) {
        path = info.companionPath(file);
        this.expectedSha256 = info.companions().get(file);
      } else {
        throw new GraftException.NotFound(
            "file '" + file + "' of", info.describe() + " (its files: " + fileNames(info) + ")");
      }
      this.size = Files.size(path);
      this.in = Files.newInputStream(path);
      this.buffer = new byte[chunk];
      try {
        this.sha = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    void start() {
      out.setOnCancelHandler(this::close);
      out.setOnReadyHandler(this::pump);
      pump();
    }

    private synchronized void pump() {
      try {
        while (!done && out.isReady()) {
          int n = in.readNBytes(buffer, 0, buffer.length);
          if (n > 0) {
            sha.update(buffer, 0, n);
            out.onNext(message().setChunk(ByteString.copyFrom(buffer, 0, n)).build());
          }
          if (n < buffer.length) {
            finish();
          }
        }
      } catch (IOException | RuntimeException e) {
        close();
        fail(out, e);
      }
    }

    private void finish() {
      close();
      String sha256 = HexFormat.of().formatHex(sha.digest());
      if (!sha256.equals(expectedSha256)) {
        out.onError(
            Status.DATA_LOSS
                .withDescription(
                    info.describe()
                        + ": the sha256 of "
                        + file
                        + ", "
                        + sha256
                        + ", differs from the registered "
                        + expectedSha256)
                .asException());
        return;
      }
      out.onNext(message().setSha256(sha256).build());
      out.onCompleted();
    }

    private DownloadModelVersionResponse.Builder message() {
      return DownloadModelVersionResponse.newBuilder()
          .setSizeBytes(size)
          .setVersion(info.version())
          .setFile(file);
    }

    private synchronized void close() {
      done = true;
      try {
        in.close();
      } catch (IOException ignored) {
        // nothing was written
      }
    }
  }

  /** The domain reference of a proto reference ("latest" when neither version nor alias). */
  @Override
  @Blocking
  public void listBaseModels(
      ListBaseModelsRequest request, StreamObserver<ListBaseModelsResponse> response) {
    reply(
        response,
        () ->
            ListBaseModelsResponse.newBuilder()
                .addAllBaseModels(baseModels.list().stream().map(BaseModelRpc::toProto).toList())
                .build());
  }

  @Override
  @Blocking
  public void getBaseModel(GetBaseModelRequest request, StreamObserver<BaseModel> response) {
    reply(response, () -> BaseModelRpc.toProto(baseModels.get(request.getName())));
  }

  @Override
  @Blocking
  public StreamObserver<ImportBaseModelRequest> importBaseModel(
      StreamObserver<BaseModel> response) {
    return BaseModelRpc.importer(importer, response);
  }

  @Override
  @Blocking
  public void pretrainBaseModel(PretrainBaseModelRequest request, StreamObserver<Run> response) {
    reply(response, () -> BaseModelRpc.pretrain(runs, request));
  }

  static ModelRef toRef(dev.graft.api.v1.ModelRef ref) {
    if (ref.getName().isEmpty()) {
      throw new GraftException.InvalidArgument("model.name is required");
    }
    return switch (ref.getSelectorCase()) {
      case VERSION -> {
        if (ref.getVersion() < 1) {
          throw new GraftException.InvalidArgument(
              "model.version must be >= 1, got " + ref.getVersion());
        }
        yield ModelRef.version(ref.getName(), ref.getVersion());
      }
      case ALIAS -> ModelRef.alias(ref.getName(), ref.getAlias());
      default -> ModelRef.latest(ref.getName());
    };
  }

  static ModelVersion toProto(ModelVersionInfo v) {
    ModelVersion.Builder b =
        ModelVersion.newBuilder()
            .setId(v.id())
            .setModelName(v.modelName())
            .setVersion(v.version())
            .setSha256(v.sha256())
            .setSizeBytes(v.sizeBytes())
            .setInputSpec(toStruct(v.inputSpec()))
            .addAllLabels(v.labels())
            .setParityMaxAbsDiff(v.parityMaxAbsDiff())
            .putAllMetadata(v.metadata())
            .addAllAliases(v.aliases())
            .setCreateTime(ProtoTime.of(v.createdAt()))
            .addFiles(
                ModelFile.newBuilder()
                    .setName(ModelVersionInfo.ONNX_FILE)
                    .setSha256(v.sha256())
                    .setSizeBytes(v.sizeBytes()));
    v.companions()
        .forEach(
            (name, sha) ->
                b.addFiles(
                    ModelFile.newBuilder()
                        .setName(name)
                        .setSha256(sha)
                        .setSizeBytes(sizeOf(v.companionPath(name)))));
    if (v.runId() != null) {
      b.setRunId(v.runId());
    }
    return b.build();
  }

  private static List<String> fileNames(ModelVersionInfo v) {
    List<String> names = new java.util.ArrayList<>();
    names.add(ModelVersionInfo.ONNX_FILE);
    names.addAll(v.companions().keySet());
    return names;
  }

  private static long sizeOf(java.nio.file.Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return -1;
    }
  }

  static Struct toStruct(Map<String, ?> map) {
    Struct.Builder s = Struct.newBuilder();
    map.forEach((k, v) -> s.putFields(k, toValue(v)));
    return s.build();
  }

  private static Value toValue(Object v) {
    if (v == null) {
      return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    }
    if (v instanceof Number n) {
      return Value.newBuilder().setNumberValue(n.doubleValue()).build();
    }
    if (v instanceof Boolean b) {
      return Value.newBuilder().setBoolValue(b).build();
    }
    if (v instanceof Map<?, ?> m) {
      Struct.Builder s = Struct.newBuilder();
      m.forEach((k, x) -> s.putFields(String.valueOf(k), toValue(x)));
      return Value.newBuilder().setStructValue(s).build();
    }
    if (v instanceof Iterable<?> list) {
      ListValue.Builder l = ListValue.newBuilder();
      list.forEach(x -> l.addValues(toValue(x)));
      return Value.newBuilder().setListValue(l).build();
    }
    if (v instanceof float[] fs) {
      ListValue.Builder l = ListValue.newBuilder();
      for (float f : fs) {
        l.addValues(Value.newBuilder().setNumberValue(f));
      }
      return Value.newBuilder().setListValue(l).build();
    }
    return Value.newBuilder().setStringValue(String.valueOf(v)).build();
  }

  /** Answers a unary call with what {@code answer} computes, or with the status of its failure. */
  private static <T> void reply(StreamObserver<T> response, Supplier<T> answer) {
    T value;
    try {
      value = answer.get();
    } catch (RuntimeException e) {
      fail(response, e);
      return;
    }
    response.onNext(value);
    response.onCompleted();
  }

  /** Ends the call with the status of the failure (unwrapping async wrappers). */
  static void fail(StreamObserver<?> response, Throwable failure) {
    Throwable t = failure;
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    try {
      response.onError(GrpcErrorMapper.toStatusException(t));
    } catch (IllegalStateException alreadyClosed) {
      // the client went away first
    }
  }
}
