package dev.graft.serving;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import ai.onnxruntime.providers.OrtCUDAProviderOptions;
import dev.graft.core.GraftException;
import java.nio.file.Path;
import java.util.Arrays;
import org.jboss.logging.Logger;

/**
 * Opens ONNX Runtime sessions with the configured execution provider, threads and graph
 * optimisation. The {@link OrtEnvironment} is ONNX Runtime's process-wide singleton: it is shared,
 * never closed.
 */
public final class SessionFactory {

  private static final Logger LOG = Logger.getLogger(SessionFactory.class);

  private final OrtEnvironment env;
  private final ExecutionProvider provider;
  private final int deviceId;
  private final long gpuMemoryLimitBytes;
  private final int intraOpThreads;
  private final int interOpThreads;
  private final OptLevel optLevel;
  private final boolean intraOpSpinning;

  public SessionFactory(
      ExecutionProvider requested,
      int deviceId,
      long gpuMemoryLimitBytes,
      int intraOpThreads,
      int interOpThreads,
      String graphOptimizationLevel) {
    this(
        requested,
        deviceId,
        gpuMemoryLimitBytes,
        intraOpThreads,
        interOpThreads,
        graphOptimizationLevel,
        false);
  }

  public SessionFactory(
      ExecutionProvider requested,
      int deviceId,
      long gpuMemoryLimitBytes,
      int intraOpThreads,
      int interOpThreads,
      String graphOptimizationLevel,
      boolean intraOpSpinning) {
    this.intraOpSpinning = intraOpSpinning;
    this.env = OrtEnvironment.getEnvironment();
    ProviderSelection selection =
        ProviderSelection.select(requested, OrtEnvironment.getAvailableProviders());
    selection.warning().ifPresent(LOG::warn);
    this.provider = selection.provider();
    this.deviceId = deviceId;
    this.gpuMemoryLimitBytes = gpuMemoryLimitBytes;
    this.intraOpThreads = intraOpThreads;
    this.interOpThreads = interOpThreads;
    this.optLevel = optLevel(graphOptimizationLevel);
    LOG.infof(
        "ONNX Runtime serving on %s (requested %s, available %s)",
        provider, requested, OrtEnvironment.getAvailableProviders());
  }

  /**
   * CPU sessions with ONNX Runtime's defaults but no spinning, as served: for tests and benchmarks.
   */
  public static SessionFactory cpu() {
    return new SessionFactory(ExecutionProvider.CPU, 0, 0, 0, 0, "ALL_OPT");
  }

  public static SessionFactory of(ServingConfig config) {
    return new SessionFactory(
        config.executionProvider(),
        config.deviceId(),
        config.gpuMemoryLimitBytes(),
        config.intraOpThreads(),
        config.interOpThreads(),
        config.graphOptimizationLevel(),
        config.intraOpSpinning());
  }

  public OrtEnvironment environment() {
    return env;
  }

  /** The provider sessions are opened with. */
  public ExecutionProvider provider() {
    return provider;
  }

  /** Opens a session on the file; the caller owns (and closes) the result. */
  public OpenSession open(Path onnx, String what) {
    return open((e, o) -> e.createSession(onnx.toString(), o), what);
  }

  /**
   * Opens a session on a model held in memory (a serialised {@code ModelProto}), named {@code what}
   * in errors; the caller owns (and closes) the result.
   */
  public OpenSession open(byte[] onnx, String what) {
    return open((e, o) -> e.createSession(onnx, o), what);
  }

  private interface Source {
    OrtSession create(OrtEnvironment env, SessionOptions options) throws OrtException;
  }

  private OpenSession open(Source source, String what) {
    SessionOptions options = new SessionOptions();
    try {
      options.setOptimizationLevel(optLevel);
      if (intraOpThreads > 0) {
        options.setIntraOpNumThreads(intraOpThreads);
      }
      if (interOpThreads > 0) {
        options.setInterOpNumThreads(interOpThreads);
      }
      if (!intraOpSpinning) {
        options.addConfigEntry("session.intra_op.allow_spinning", "0");
      }
      ExecutionProvider used = provider;
      if (provider == ExecutionProvider.CUDA) {
        try (OrtCUDAProviderOptions cuda = new OrtCUDAProviderOptions(deviceId)) {
          if (gpuMemoryLimitBytes > 0) {
            cuda.add("gpu_mem_limit", Long.toString(gpuMemoryLimitBytes));
          }
          options.addCUDA(cuda);
        } catch (OrtException e) {
          // The GPU build is present but CUDA cannot start (no driver, wrong CUDA): serve anyway.
          LOG.warnf("CUDA unavailable for %s (%s); serving it on CPU", what, e.getMessage());
          used = ExecutionProvider.CPU;
        }
      }
      OrtSession session = source.create(env, options);
      return new OpenSession(session, options, used);
    } catch (OrtException e) {
      options.close();
      throw new GraftException.FailedPrecondition(
          what + " cannot be loaded by ONNX Runtime: " + e.getMessage());
    } catch (RuntimeException e) {
      options.close();
      throw e;
    }
  }

  private static OptLevel optLevel(String name) {
    try {
      return OptLevel.valueOf(name);
    } catch (IllegalArgumentException e) {
      throw new GraftException.InvalidArgument(
          "graft.serving.graph-optimization-level '"
              + name
              + "' is not one of "
              + Arrays.toString(OptLevel.values()));
    }
  }

  /** A session and its options, closed together: session first, then options. */
  public record OpenSession(OrtSession session, SessionOptions options, ExecutionProvider provider)
      implements AutoCloseable {
    @Override
    public void close() {
      try {
        session.close();
      } catch (OrtException e) {
        LOG.warn("closing an ONNX Runtime session failed", e);
      } finally {
        options.close();
      }
    }
  }
}
