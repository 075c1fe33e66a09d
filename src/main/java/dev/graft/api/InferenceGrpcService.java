package dev.graft.api;

import dev.graft.api.v1.ClassScore;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.PredictError;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictResponse;
import dev.graft.api.v1.PredictStreamRequest;
import dev.graft.api.v1.PredictStreamResponse;
import dev.graft.api.v1.Prediction;
import dev.graft.core.GraftException;
import dev.graft.serving.Inference;
import dev.graft.serving.InferenceInput;
import dev.graft.serving.PredictionResult;
import dev.graft.serving.ServingConfig;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * gRPC adapter of {@link Inference}. Written on grpc-java's stub base (not Mutiny) because the
 * stream needs explicit flow control: it requests requests from the client only while fewer than
 * {@code graft.serving.stream-max-in-flight} are unanswered and the client reads its responses.
 */
@GrpcService
public class InferenceGrpcService extends InferenceServiceGrpc.InferenceServiceImplBase {

  private final Inference inference;
  private final int maxInFlight;

  InferenceGrpcService(Inference inference, ServingConfig config) {
    this.inference = inference;
    this.maxInFlight = config.streamMaxInFlight();
  }

  /**
   * Not {@code @Blocking}: in the steady state (model loaded, no images) the request is queued for
   * its model right on the event loop, and only registry lookups, loading and decoding go to a
   * worker (see {@link Inference#predictAsync}); a worker hop per call cost more than the model.
   */
  @Override
  public void predict(PredictRequest request, StreamObserver<PredictResponse> response) {
    try {
      inference
          .predictAsync(
              ModelGrpcService.toRef(request.getModel()), inputs(request), request.getTopK())
          .whenComplete(
              (result, failure) -> {
                if (failure != null) {
                  ModelGrpcService.fail(response, failure);
                } else {
                  response.onNext(toProto(result));
                  response.onCompleted();
                }
              });
    } catch (RuntimeException e) {
      ModelGrpcService.fail(response, e);
    }
  }

  @Override
  public StreamObserver<PredictStreamRequest> predictStream(
      StreamObserver<PredictStreamResponse> response) {
    return new OrderedStream<PredictStreamRequest, PredictStreamResponse>(
            (ServerCallStreamObserver<PredictStreamResponse>) response,
            maxInFlight,
            req -> {
              PredictRequest p = req.getRequest();
              return inference
                  .predictAsync(ModelGrpcService.toRef(p.getModel()), inputs(p), p.getTopK())
                  .thenApply(
                      r ->
                          PredictStreamResponse.newBuilder()
                              .setId(req.getId())
                              .setResponse(toProto(r))
                              .build());
            },
            (req, failure) -> {
              Status status = GrpcErrorMapper.toStatus(failure);
              return PredictStreamResponse.newBuilder()
                  .setId(req.getId())
                  .setError(
                      PredictError.newBuilder()
                          .setCode(status.getCode().value())
                          .setMessage(
                              status.getDescription() == null ? "" : status.getDescription()))
                  .build();
            })
        .start();
  }

  private static List<InferenceInput> inputs(PredictRequest request) {
    List<InferenceInput> inputs = new ArrayList<>(request.getInputsCount());
    for (int i = 0; i < request.getInputsCount(); i++) {
      Input in = request.getInputs(i);
      switch (in.getDataCase()) {
        case IMAGE -> inputs.add(InferenceInput.image(in.getImage().toByteArray()));
        case FEATURES -> {
          dev.graft.api.v1.FloatVector features = in.getFeatures();
          float[] values = new float[features.getValuesCount()];
          for (int j = 0; j < values.length; j++) {
            values[j] = features.getValues(j);
          }
          inputs.add(InferenceInput.features(values));
        }
        case TEXT -> inputs.add(InferenceInput.text(in.getText()));
        default ->
            throw new GraftException.InvalidArgument(
                "input " + i + " has neither image, features nor text");
      }
    }
    return inputs;
  }

  private static PredictResponse toProto(PredictionResult r) {
    PredictResponse.Builder b =
        PredictResponse.newBuilder()
            .setModelName(r.answeredBy().modelName())
            .setModelVersion(r.answeredBy().version())
            .setExecutionProvider(r.provider().name());
    for (int i = 0; i < r.predictions().size(); i++) {
      List<dev.graft.serving.ClassScore> scores = r.predictions().get(i);
      Prediction.Builder p = Prediction.newBuilder().setTruncated(r.truncated(i));
      for (dev.graft.serving.ClassScore s : scores) {
        p.addClasses(
            ClassScore.newBuilder().setIndex(s.index()).setLabel(s.label()).setScore(s.score()));
      }
      b.addPredictions(p);
    }
    return b.build();
  }

  /**
   * A bidirectional stream answered in request order with at most {@code maxInFlight} requests
   * unanswered. Requests are pulled from the client one by one ({@code request(1)}) only while that
   * bound holds and the client reads its responses ({@code isReady}), so neither side buffers
   * without bound. A failed request is answered by {@code onFailure}; the stream goes on.
   */
  static final class OrderedStream<Q, R> implements StreamObserver<Q> {
    private final ServerCallStreamObserver<R> out;
    private final int maxInFlight;
    private final Function<Q, CompletableFuture<R>> handler;
    private final BiFunction<Q, Throwable, R> onFailure;
    private final ArrayDeque<CompletableFuture<R>> pending = new ArrayDeque<>();
    private int requested;
    private boolean halfClosed;
    private boolean finished;

    OrderedStream(
        ServerCallStreamObserver<R> out,
        int maxInFlight,
        Function<Q, CompletableFuture<R>> handler,
        BiFunction<Q, Throwable, R> onFailure) {
      this.out = out;
      this.maxInFlight = maxInFlight;
      this.handler = handler;
      this.onFailure = onFailure;
    }

    OrderedStream<Q, R> start() {
      out.disableAutoRequest();
      out.setOnReadyHandler(this::drain);
      out.setOnCancelHandler(
          () -> {
            synchronized (this) {
              finished = true;
              pending.clear();
            }
          });
      drain();
      return this;
    }

    @Override
    public void onNext(Q request) {
      CompletableFuture<R> result;
      try {
        result = handler.apply(request);
      } catch (RuntimeException e) {
        result = CompletableFuture.failedFuture(e);
      }
      CompletableFuture<R> answered =
          result.handle(
              (r, failure) -> failure == null ? r : onFailure.apply(request, unwrap(failure)));
      synchronized (this) {
        if (finished) {
          return;
        }
        pending.add(answered);
      }
      answered.whenComplete((r, t) -> drain());
    }

    @Override
    public void onError(Throwable t) {
      synchronized (this) {
        finished = true;
        pending.clear();
      }
    }

    @Override
    public void onCompleted() {
      synchronized (this) {
        halfClosed = true;
      }
      drain();
    }

    private synchronized void drain() {
      if (finished || out.isCancelled()) {
        return;
      }
      // Answers go out as soon as they are ready: at most maxInFlight can be pending, so this
      // never buffers without bound; a slow reader is held back by not requesting more.
      while (!pending.isEmpty() && pending.peek().isDone()) {
        out.onNext(pending.poll().join());
        requested--;
      }
      if (halfClosed && pending.isEmpty()) {
        finished = true;
        out.onCompleted();
        return;
      }
      while (!halfClosed && requested < maxInFlight && out.isReady()) {
        requested++;
        out.request(1);
      }
    }

    private static Throwable unwrap(Throwable t) {
      while (t instanceof CompletionException && t.getCause() != null) {
        t = t.getCause();
      }
      return t;
    }
  }
}
