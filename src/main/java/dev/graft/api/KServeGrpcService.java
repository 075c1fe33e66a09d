package dev.graft.api;

import com.google.protobuf.ByteString;
import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.kserve.InferBatchStatistics;
import dev.graft.api.kserve.InferParameter;
import dev.graft.api.kserve.InferStatistics;
import dev.graft.api.kserve.InferTensorContents;
import dev.graft.api.kserve.ModelInferRequest;
import dev.graft.api.kserve.ModelInferRequest.InferInputTensor;
import dev.graft.api.kserve.ModelInferResponse;
import dev.graft.api.kserve.ModelMetadataRequest;
import dev.graft.api.kserve.ModelMetadataResponse;
import dev.graft.api.kserve.ModelMetadataResponse.TensorMetadata;
import dev.graft.api.kserve.ModelReadyRequest;
import dev.graft.api.kserve.ModelReadyResponse;
import dev.graft.api.kserve.ModelStatistics;
import dev.graft.api.kserve.ModelStatisticsRequest;
import dev.graft.api.kserve.ModelStatisticsResponse;
import dev.graft.api.kserve.ModelStreamInferResponse;
import dev.graft.api.kserve.RepositoryIndexRequest;
import dev.graft.api.kserve.RepositoryIndexResponse;
import dev.graft.api.kserve.ServerLiveRequest;
import dev.graft.api.kserve.ServerLiveResponse;
import dev.graft.api.kserve.ServerMetadataRequest;
import dev.graft.api.kserve.ServerMetadataResponse;
import dev.graft.api.kserve.ServerReadyRequest;
import dev.graft.api.kserve.ServerReadyResponse;
import dev.graft.api.kserve.StatisticDuration;
import dev.graft.core.GraftException;
import dev.graft.core.Readiness;
import dev.graft.model.ModelRef;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.serving.Inference;
import dev.graft.serving.ModelSignature;
import dev.graft.serving.ModelStats;
import dev.graft.serving.ServedModel;
import dev.graft.serving.ServingConfig;
import dev.graft.serving.TensorResult;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The KServe v2 / Open Inference Protocol ({@code inference.GRPCInferenceService}) over Graft's
 * served models, plus Triton's ModelStreamInfer, ModelStatistics and RepositoryIndex, so that
 * Triton and KServe clients work unchanged. A model is addressed by its name; the version string is
 * a version number, an alias, or empty for the alias {@code latest}. For a float model, tensors of
 * type FP32, FP64, INT8-INT64 and UINT8-UINT32 are accepted, as typed contents or raw little-endian
 * bytes, and converted to the model's float32 input. A token model takes its INT64 inputs as the
 * ONNX file declares them; a Graft text model takes, instead, one BYTES input {@code text} of shape
 * {@code [N]} (bytes_contents, or raw contents with a 4-byte little-endian length before each
 * string), tokenised on the server.
 */
@GrpcService
public class KServeGrpcService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {

  private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

  /** Triton's platform name for ONNX models. */
  static final String PLATFORM = "onnxruntime_onnx";

  private final Inference inference;
  private final ModelVersions versions;
  private final Readiness readiness;
  private final int maxInFlight;
  private final String serverVersion;

  KServeGrpcService(
      Inference inference,
      ModelVersions versions,
      Readiness readiness,
      ServingConfig config,
      @ConfigProperty(name = "quarkus.application.version", defaultValue = "dev")
          String serverVersion) {
    this.inference = inference;
    this.versions = versions;
    this.readiness = readiness;
    this.maxInFlight = config.streamMaxInFlight();
    this.serverVersion = serverVersion;
  }

  @Override
  public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> response) {
    response.onNext(ServerLiveResponse.newBuilder().setLive(true).build());
    response.onCompleted();
  }

  @Override
  @Blocking
  public void serverReady(
      ServerReadyRequest request, StreamObserver<ServerReadyResponse> response) {
    response.onNext(ServerReadyResponse.newBuilder().setReady(readiness.isReady()).build());
    response.onCompleted();
  }

  @Override
  @Blocking
  public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> response) {
    boolean ready;
    try {
      inference.model(ref(request.getName(), request.getVersion()));
      ready = true;
    } catch (GraftException.NotFound | GraftException.FailedPrecondition e) {
      ready = false;
    } catch (RuntimeException e) {
      ModelGrpcService.fail(response, e);
      return;
    }
    response.onNext(ModelReadyResponse.newBuilder().setReady(ready).build());
    response.onCompleted();
  }

  @Override
  public void serverMetadata(
      ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> response) {
    response.onNext(
        ServerMetadataResponse.newBuilder()
            .setName("graft")
            .setVersion(serverVersion)
            // Extension names only (the execution provider is a parameter of every ModelInfer
            // response); not model_repository, whose load and unload calls Graft does not offer.
            .addExtensions("statistics")
            .build());
    response.onCompleted();
  }

  @Override
  @Blocking
  public void modelMetadata(
      ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> response) {
    try {
      ServedModel model = inference.model(ref(request.getName(), request.getVersion()));
      ModelSignature sig = model.signature();
      response.onNext(
          ModelMetadataResponse.newBuilder()
              .setName(model.info().modelName())
              .addAllVersions(
                  versions.list(model.info().modelName()).stream()
                      .map(v -> Integer.toString(v.version()))
                      .toList())
              .setPlatform(PLATFORM)
              .addAllInputs(
                  sig.inputs().stream()
                      .map(
                          in ->
                              tensor(
                                  in.name(),
                                  in.type() == ModelSignature.DataType.INT64 ? "INT64" : "FP32",
                                  in.shape()))
                      .toList())
              .addOutputs(tensor(sig.outputName(), "FP32", sig.outputShape()))
              .build());
      response.onCompleted();
    } catch (RuntimeException e) {
      ModelGrpcService.fail(response, e);
    }
  }

  /** Not {@code @Blocking}: see {@link InferenceGrpcService#predict}. */
  @Override
  public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> response) {
    try {
      infer(request)
          .whenComplete(
              (r, failure) -> {
                if (failure != null) {
                  ModelGrpcService.fail(response, failure);
                } else {
                  response.onNext(r);
                  response.onCompleted();
                }
              });
    } catch (RuntimeException e) {
      ModelGrpcService.fail(response, e);
    }
  }

  @Override
  public StreamObserver<ModelInferRequest> modelStreamInfer(
      StreamObserver<ModelStreamInferResponse> response) {
    return new InferenceGrpcService.OrderedStream<ModelInferRequest, ModelStreamInferResponse>(
            (ServerCallStreamObserver<ModelStreamInferResponse>) response,
            maxInFlight,
            req ->
                infer(req)
                    .thenApply(
                        r -> ModelStreamInferResponse.newBuilder().setInferResponse(r).build()),
            (req, failure) -> {
              io.grpc.Status status = GrpcErrorMapper.toStatus(failure);
              return ModelStreamInferResponse.newBuilder()
                  .setErrorMessage(status.getCode() + ": " + status.getDescription())
                  .setInferResponse(
                      ModelInferResponse.newBuilder()
                          .setModelName(req.getModelName())
                          .setModelVersion(req.getModelVersion())
                          .setId(req.getId()))
                  .build();
            })
        .start();
  }

  @Override
  @Blocking
  public void modelStatistics(
      ModelStatisticsRequest request, StreamObserver<ModelStatisticsResponse> response) {
    try {
      List<ModelStats.Snapshot> snapshots = new ArrayList<>();
      if (request.getName().isEmpty()) {
        snapshots.addAll(inference.registry().statistics());
      } else if (request.getVersion().isEmpty()) {
        for (ModelVersionInfo v : versions.list(request.getName())) {
          inference.registry().statistics(v.id()).ifPresent(snapshots::add);
        }
      } else {
        ModelVersionInfo v =
            inference.registry().resolve(ref(request.getName(), request.getVersion()));
        Optional<ModelStats.Snapshot> s = inference.registry().statistics(v.id());
        snapshots.add(
            s.orElseGet(
                () ->
                    new ModelStats.Snapshot(
                        v.modelName(),
                        v.version(),
                        0,
                        0,
                        0,
                        zero(),
                        zero(),
                        zero(),
                        zero(),
                        zero(),
                        zero(),
                        java.util.Map.of())));
      }
      ModelStatisticsResponse.Builder b = ModelStatisticsResponse.newBuilder();
      snapshots.forEach(s -> b.addModelStats(toProto(s)));
      response.onNext(b.build());
      response.onCompleted();
    } catch (RuntimeException e) {
      ModelGrpcService.fail(response, e);
    }
  }

  @Override
  @Blocking
  public void repositoryIndex(
      RepositoryIndexRequest request, StreamObserver<RepositoryIndexResponse> response) {
    try {
      RepositoryIndexResponse.Builder b = RepositoryIndexResponse.newBuilder();
      for (ModelVersionInfo v : versions.listAll()) {
        boolean loaded = inference.registry().isLoaded(v.id());
        if (request.getReady() && !loaded) {
          continue;
        }
        b.addModels(
            RepositoryIndexResponse.ModelIndex.newBuilder()
                .setName(v.modelName())
                .setVersion(Integer.toString(v.version()))
                .setState(loaded ? "READY" : "UNAVAILABLE")
                .setReason(loaded ? "" : "not loaded; loads on first request"));
      }
      response.onNext(b.build());
      response.onCompleted();
    } catch (RuntimeException e) {
      ModelGrpcService.fail(response, e);
    }
  }

  private CompletableFuture<ModelInferResponse> infer(ModelInferRequest request) {
    ModelRef ref = ref(request.getModelName(), request.getModelVersion());
    if (request.getInputsCount() == 0) {
      throw new GraftException.InvalidArgument("a request needs at least one input tensor");
    }
    boolean raw = request.getRawInputContentsCount() > 0;
    if (raw && request.getRawInputContentsCount() != request.getInputsCount()) {
      throw new GraftException.InvalidArgument(
          "raw_input_contents has "
              + request.getRawInputContentsCount()
              + " entries for "
              + request.getInputsCount()
              + " inputs; send one per input, in the order of inputs");
    }
    List<Inference.TensorInput> inputs = new ArrayList<>(request.getInputsCount());
    for (int i = 0; i < request.getInputsCount(); i++) {
      InferInputTensor input = request.getInputs(i);
      elements(input); // shape refused up front, before any product of its dimensions
      ByteString bytes = raw ? request.getRawInputContents(i) : null;
      inputs.add(
          new Inference.TensorInput(
              input.getName(),
              input.getDatatype(),
              input.getShapeList(),
              () -> raw ? fromRaw(input, bytes) : fromContents(input),
              () -> raw ? longsFromRaw(input, bytes) : longsFromContents(input),
              () -> raw ? stringsFromRaw(input, bytes) : stringsFromContents(input)));
    }
    CompletableFuture<TensorResult> result =
        inference.inferAsync(
            ref,
            new Inference.TensorRequest(
                inputs,
                request.getOutputsList().stream()
                    .map(ModelInferRequest.InferRequestedOutputTensor::getName)
                    .toList()));
    return result.thenApply(r -> toProto(request, r, raw));
  }

  private static ModelInferResponse toProto(
      ModelInferRequest request, TensorResult r, boolean raw) {
    ModelInferResponse.InferOutputTensor.Builder out =
        ModelInferResponse.InferOutputTensor.newBuilder()
            .setName(r.name())
            .setDatatype("FP32")
            .addAllShape(r.shape());
    ModelInferResponse.Builder b =
        ModelInferResponse.newBuilder()
            .setModelName(r.answeredBy().modelName())
            .setModelVersion(Integer.toString(r.answeredBy().version()))
            .setId(request.getId())
            .putParameters(
                "execution_provider",
                InferParameter.newBuilder().setStringParam(r.provider().name()).build());
    if (raw) {
      ByteBuffer bytes = ByteBuffer.allocate(r.values().length * 4).order(ByteOrder.LITTLE_ENDIAN);
      bytes.asFloatBuffer().put(r.values());
      b.addOutputs(out).addRawOutputContents(ByteString.copyFrom(bytes));
    } else {
      InferTensorContents.Builder c = InferTensorContents.newBuilder();
      for (float v : r.values()) {
        c.addFp32Contents(v);
      }
      b.addOutputs(out.setContents(c));
    }
    return b.build();
  }

  /** name + version string: a number, an alias, or empty for latest. */
  static ModelRef ref(String name, String version) {
    if (name.isEmpty()) {
      throw new GraftException.InvalidArgument("model name is required");
    }
    if (version.isEmpty()) {
      return ModelRef.latest(name);
    }
    if (version.chars().allMatch(Character::isDigit)) {
      try {
        return ModelRef.version(name, Integer.parseInt(version));
      } catch (NumberFormatException e) {
        throw new GraftException.InvalidArgument("version '" + version + "' is out of range");
      }
    }
    return ModelRef.alias(name, version);
  }

  /**
   * The number of values the shape declares, refused beyond what one request can carry (a Java
   * array, 2^31 - 1 values), so that no product of dimensions can overflow further down.
   */
  private static long elements(InferInputTensor input) {
    long n = 1;
    for (long d : input.getShapeList()) {
      if (d < 0) {
        throw new GraftException.InvalidArgument(
            "input '"
                + input.getName()
                + "' has shape "
                + input.getShapeList()
                + " with a negative dimension");
      }
      n = d == 0 || n <= MAX_ELEMENTS / d ? n * d : MAX_ELEMENTS + 1;
    }
    if (n > MAX_ELEMENTS) {
      throw new GraftException.InvalidArgument(
          "input '"
              + input.getName()
              + "' has shape "
              + input.getShapeList()
              + ", more than "
              + MAX_ELEMENTS
              + " values in one request; send fewer examples per request");
    }
    return n;
  }

  private static int elementSize(InferInputTensor input) {
    switch (input.getDatatype()) {
      case "FP64":
      case "INT64":
        return 8;
      case "FP32":
      case "INT32":
      case "UINT32":
        return 4;
      case "INT16":
      case "UINT16":
        return 2;
      case "INT8":
      case "UINT8":
        return 1;
      default:
        throw unsupported(input);
    }
  }

  private static GraftException.InvalidArgument unsupported(InferInputTensor input) {
    return new GraftException.InvalidArgument(
        "input '"
            + input.getName()
            + "' has datatype '"
            + input.getDatatype()
            + "'; the model takes FP32 (also accepted and converted: FP64, INT8, INT16, INT32,"
            + " INT64, UINT8, UINT16, UINT32)");
  }

  private static void checkRawOnly(InferInputTensor input) {
    if (input.hasContents()) {
      throw new GraftException.InvalidArgument(
          "input '" + input.getName() + "' has contents and raw_input_contents; send one of them");
    }
  }

  private static void checkRawSize(InferInputTensor input, ByteString raw, long n, int size) {
    if (raw.size() != n * size) {
      throw new GraftException.InvalidArgument(
          "raw_input_contents of input '"
              + input.getName()
              + "' has "
              + raw.size()
              + " bytes; shape "
              + input.getShapeList()
              + " of "
              + input.getDatatype()
              + " needs "
              + n * size);
    }
  }

  /** INT64 values as given (the datatype is checked by the caller). */
  private static long[] longsFromRaw(InferInputTensor input, ByteString raw) {
    checkRawOnly(input);
    long n = elements(input);
    checkRawSize(input, raw, n, 8);
    long[] out = new long[(int) n];
    raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
    return out;
  }

  private static long[] longsFromContents(InferInputTensor input) {
    long n = elements(input);
    InferTensorContents c = input.getContents();
    if (c.getInt64ContentsCount() != n) {
      throw new GraftException.InvalidArgument(
          "input '"
              + input.getName()
              + "' of shape "
              + input.getShapeList()
              + " needs "
              + n
              + " INT64 values in contents.int64_contents, got "
              + c.getInt64ContentsCount());
    }
    long[] out = new long[(int) n];
    for (int i = 0; i < out.length; i++) {
      out[i] = c.getInt64Contents(i);
    }
    return out;
  }

  /** BYTES elements in raw form: each a 4-byte little-endian length, then that many bytes. */
  private static List<String> stringsFromRaw(InferInputTensor input, ByteString raw) {
    checkRawOnly(input);
    long n = elements(input);
    ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    List<String> out = new ArrayList<>();
    while (b.hasRemaining()) {
      if (b.remaining() < 4) {
        throw new GraftException.InvalidArgument(
            "raw_input_contents of input '"
                + input.getName()
                + "' ends inside the 4-byte length of element "
                + out.size());
      }
      long length = Integer.toUnsignedLong(b.getInt());
      if (length > b.remaining()) {
        throw new GraftException.InvalidArgument(
            "raw_input_contents of input '"
                + input.getName()
                + "': element "
                + out.size()
                + " declares "
                + length
                + " bytes but only "
                + b.remaining()
                + " follow (each BYTES element is a 4-byte little-endian length, then the bytes)");
      }
      byte[] bytes = new byte[(int) length];
      b.get(bytes);
      out.add(utf8(input, out.size(), bytes));
      if (out.size() > n) {
        break;
      }
    }
    if (out.size() != n) {
      throw new GraftException.InvalidArgument(
          "raw_input_contents of input '"
              + input.getName()
              + "' holds "
              + (out.size() > n ? "more than " + n : out.size())
              + " strings; shape "
              + input.getShapeList()
              + " needs "
              + n);
    }
    return out;
  }

  private static List<String> stringsFromContents(InferInputTensor input) {
    if (!"BYTES".equals(input.getDatatype())) {
      throw new GraftException.InvalidArgument(
          "input '" + input.getName() + "' has datatype '" + input.getDatatype() + "', not BYTES");
    }
    long n = elements(input);
    InferTensorContents c = input.getContents();
    if (c.getBytesContentsCount() != n) {
      throw new GraftException.InvalidArgument(
          "input '"
              + input.getName()
              + "' of shape "
              + input.getShapeList()
              + " needs "
              + n
              + " strings in contents.bytes_contents, got "
              + c.getBytesContentsCount());
    }
    List<String> out = new ArrayList<>((int) n);
    for (int i = 0; i < n; i++) {
      out.add(utf8(input, i, c.getBytesContents(i).toByteArray()));
    }
    return out;
  }

  private static String utf8(InferInputTensor input, int index, byte[] bytes) {
    try {
      return java.nio.charset.StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
          .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new GraftException.InvalidArgument(
          "element " + index + " of input '" + input.getName() + "' is not UTF-8 text");
    }
  }

  private static float[] fromRaw(InferInputTensor input, ByteString raw) {
    checkRawOnly(input);
    long n = elements(input);
    int size = elementSize(input);
    if (raw.size() != n * size) {
      throw new GraftException.InvalidArgument(
          "raw_input_contents of input '"
              + input.getName()
              + "' has "
              + raw.size()
              + " bytes; shape "
              + input.getShapeList()
              + " of "
              + input.getDatatype()
              + " needs "
              + n * size);
    }
    ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[(int) n];
    switch (input.getDatatype()) {
      case "FP32" -> b.asFloatBuffer().get(out);
      case "FP64" -> {
        for (int i = 0; i < n; i++) {
          out[i] = (float) b.getDouble();
        }
      }
      case "INT64" -> {
        for (int i = 0; i < n; i++) {
          out[i] = b.getLong();
        }
      }
      case "INT32" -> {
        for (int i = 0; i < n; i++) {
          out[i] = b.getInt();
        }
      }
      case "UINT32" -> {
        for (int i = 0; i < n; i++) {
          out[i] = Integer.toUnsignedLong(b.getInt());
        }
      }
      case "INT16" -> {
        for (int i = 0; i < n; i++) {
          out[i] = b.getShort();
        }
      }
      case "UINT16" -> {
        for (int i = 0; i < n; i++) {
          out[i] = Short.toUnsignedInt(b.getShort());
        }
      }
      case "INT8" -> {
        for (int i = 0; i < n; i++) {
          out[i] = b.get();
        }
      }
      case "UINT8" -> {
        for (int i = 0; i < n; i++) {
          out[i] = Byte.toUnsignedInt(b.get());
        }
      }
      default -> throw unsupported(input);
    }
    return out;
  }

  private static float[] fromContents(InferInputTensor input) {
    long n = elements(input);
    InferTensorContents c = input.getContents();
    float[] out;
    switch (input.getDatatype()) {
      case "FP32" -> {
        out = new float[c.getFp32ContentsCount()];
        for (int i = 0; i < out.length; i++) {
          out[i] = c.getFp32Contents(i);
        }
      }
      case "FP64" -> {
        out = new float[c.getFp64ContentsCount()];
        for (int i = 0; i < out.length; i++) {
          out[i] = (float) c.getFp64Contents(i);
        }
      }
      case "INT64" -> {
        out = new float[c.getInt64ContentsCount()];
        for (int i = 0; i < out.length; i++) {
          out[i] = c.getInt64Contents(i);
        }
      }
      case "INT8", "INT16", "INT32" -> {
        out = new float[c.getIntContentsCount()];
        for (int i = 0; i < out.length; i++) {
          out[i] = c.getIntContents(i);
        }
      }
      case "UINT8", "UINT16", "UINT32" -> {
        out = new float[c.getUintContentsCount()];
        for (int i = 0; i < out.length; i++) {
          out[i] = Integer.toUnsignedLong(c.getUintContents(i));
        }
      }
      default -> throw unsupported(input);
    }
    if (out.length != n) {
      throw new GraftException.InvalidArgument(
          "input '"
              + input.getName()
              + "' of shape "
              + input.getShapeList()
              + " needs "
              + n
              + " "
              + input.getDatatype()
              + " values in contents, got "
              + out.length);
    }
    return out;
  }

  private static TensorMetadata tensor(String name, String datatype, List<Long> shape) {
    return TensorMetadata.newBuilder()
        .setName(name)
        .setDatatype(datatype)
        .addAllShape(shape)
        .build();
  }

  private static ModelStats.Duration2 zero() {
    return new ModelStats.Duration2(0, 0);
  }

  private static StatisticDuration duration(ModelStats.Duration2 d) {
    return StatisticDuration.newBuilder().setCount(d.count()).setNs(d.nanos()).build();
  }

  private static ModelStatistics toProto(ModelStats.Snapshot s) {
    ModelStatistics.Builder b =
        ModelStatistics.newBuilder()
            .setName(s.modelName())
            .setVersion(Integer.toString(s.version()))
            .setLastInference(s.lastInferenceMillis())
            .setInferenceCount(s.inferenceCount())
            .setExecutionCount(s.executionCount())
            .setInferenceStats(
                InferStatistics.newBuilder()
                    .setSuccess(duration(s.success()))
                    .setFail(duration(s.fail()))
                    .setQueue(duration(s.queue()))
                    .setComputeInput(duration(s.computeInput()))
                    .setComputeInfer(duration(s.computeInfer()))
                    .setComputeOutput(duration(s.computeOutput())));
    s.batches()
        .values()
        .forEach(
            bs ->
                b.addBatchStats(
                    InferBatchStatistics.newBuilder()
                        .setBatchSize(bs.batchSize())
                        .setComputeInput(
                            duration(new ModelStats.Duration2(bs.count(), bs.inputNanos())))
                        .setComputeInfer(
                            duration(new ModelStats.Duration2(bs.count(), bs.inferNanos())))
                        .setComputeOutput(
                            duration(new ModelStats.Duration2(bs.count(), bs.outputNanos())))));
    return b.build();
  }
}
