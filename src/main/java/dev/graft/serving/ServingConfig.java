package dev.graft.serving;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/** How trained models are served. */
@ConfigMapping(prefix = "graft.serving")
public interface ServingConfig {

  /** ONNX Runtime execution provider: AUTO (CUDA when available, else CPU), CPU or CUDA. */
  @WithDefault("AUTO")
  ExecutionProvider executionProvider();

  /** CUDA device id used when the provider is CUDA. */
  @WithDefault("0")
  int deviceId();

  /** CUDA memory arena limit per session in bytes; 0 leaves ONNX Runtime's default (no limit). */
  @WithDefault("0")
  long gpuMemoryLimitBytes();

  /**
   * Threads used inside one run of a model; 0 lets ONNX Runtime choose (one per core). 1 (the
   * default) with one runner per core ({@link Batching#runners()}) serves more examples per second
   * on a CPU than one run at a time spread over every core: the runs need no cross-thread
   * synchronisation, and one batch forms while another computes (measured on 2 cores: 2 runners of
   * one thread 1.1x ONNX Runtime's own default on resnet-mini and 1.2x on cnn-small, in-process).
   * Raise it (and lower the runners) when single requests of a large model must finish sooner.
   */
  @WithDefault("1")
  int intraOpThreads();

  /**
   * Whether ONNX Runtime's operator threads spin while waiting for work (ONNX Runtime's own
   * default). Off here: spinning shaves microseconds off a run but burns the cores that the gRPC
   * threads of the same process need between runs (measured on 2 cores: server CPU per unary
   * request halved, streamed throughput up by a third to a half with it off).
   */
  @WithDefault("false")
  boolean intraOpSpinning();

  /** Threads used across independent operators; 0 lets ONNX Runtime choose. */
  @WithDefault("0")
  int interOpThreads();

  /** ONNX Runtime graph optimisation level: NO_OPT, BASIC_OPT, EXTENDED_OPT or ALL_OPT. */
  @WithDefault("ALL_OPT")
  String graphOptimizationLevel();

  /** How many model versions may hold a session at once; the least recently used is unloaded. */
  @WithDefault("8")
  int maxLoadedModels();

  /**
   * How long an alias resolution is reused before the registry is asked again (aliases moved on
   * this node take effect at once; this bounds the delay for moves made by other replicas).
   */
  @WithDefault("2s")
  Duration aliasCacheTtl();

  /**
   * How often a serving process compares the aliases it serves with the registry and fixes what
   * differs (the safety net behind the {@code graft_models} notifications, which normally apply a
   * move made by another process within a second).
   */
  @WithDefault("30s")
  Duration reconcileInterval();

  /**
   * On SIGTERM, how long a serving process waits for the inference calls and streams in flight to
   * finish (new ones are refused with UNAVAILABLE) before the gRPC server stops and cancels the
   * rest. Keep it under the pod's terminationGracePeriodSeconds.
   */
  @WithDefault("20s")
  Duration drainTimeout();

  /** Most examples in one Predict or ModelInfer request; more is RESOURCE_EXHAUSTED. */
  @WithDefault("256")
  int maxRequestInputs();

  /**
   * Most pixels (height x width) one request image may have, read from its header before it is
   * decoded (default 4096 x 4096).
   */
  @WithDefault("16777216")
  long maxImagePixels();

  /**
   * Most pixels that the images of all requests may be decoding at once; a request that would go
   * beyond is refused with RESOURCE_EXHAUSTED (one request's images together, too). About 11 bytes
   * of heap per pixel while decoding: the default, 4 x 4096 x 4096, is about 740 MB.
   */
  @WithDefault("67108864")
  long maxDecodingPixels();

  /**
   * Most characters one text input may have (Predict text, KServe BYTES); longer is
   * INVALID_ARGUMENT naming the input. Texts are cut at the model's max tokens anyway; this bounds
   * the work of tokenising them.
   */
  @WithDefault("10000")
  int maxTextChars();

  /** Most requests of one PredictStream/ModelStreamInfer read ahead of their responses. */
  @WithDefault("32")
  int streamMaxInFlight();

  /** Dynamic batching defaults, for every model. */
  Batching batching();

  /**
   * Per model name overrides of the batching defaults, e.g. {@code
   * graft.serving.models."mnist".max-batch-size=8}. A model version's metadata keys {@code
   * graft.serving.max-batch-size} and {@code graft.serving.max-queue-delay-ms} override both.
   */
  Map<String, BatchingOverride> models();

  /** Dynamic batching: requests of all callers coalesced into one ONNX Runtime run. */
  interface Batching {
    /** false runs every request on its own (batch size 1). */
    @WithDefault("true")
    boolean enabled();

    /** Most examples in one run. */
    @WithDefault("32")
    int maxBatchSize();

    /**
     * How long the first request of a batch may wait for more. 0 batches only what queued while the
     * previous run was busy, which costs no latency and still batches under load.
     */
    @WithDefault("0s")
    Duration maxQueueDelay();

    /** Requests that may wait per model version; beyond, RESOURCE_EXHAUSTED. */
    @WithDefault("1024")
    int queueCapacity();

    /**
     * Batches of one model version computed at once, each on its own thread, all on the version's
     * one session. 0 (the default) picks: on CPU, the cores divided by {@code intra-op-threads} (at
     * least 1; 1 when intra-op-threads is 0), on CUDA 1.
     */
    @WithDefault("0")
    int runners();
  }

  /** Batching settings of one model; unset values keep the defaults. */
  interface BatchingOverride {
    /** See {@link Batching#enabled()}. */
    Optional<Boolean> enabled();

    /** See {@link Batching#maxBatchSize()}. */
    Optional<Integer> maxBatchSize();

    /** See {@link Batching#maxQueueDelay()}. */
    Optional<Duration> maxQueueDelay();

    /** See {@link Batching#runners()}. */
    Optional<Integer> runners();
  }
}
