package dev.graft.serving;

import dev.graft.core.GraftException;
import dev.graft.model.ModelAliasMoved;
import dev.graft.model.ModelRef;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * The model versions being served: resolves references (aliases cached briefly), loads a version on
 * first use or when an alias moves to it, and unloads the least recently used beyond {@code
 * graft.serving.max-loaded-models}. An unloaded version still answers the requests it had queued; a
 * request that finds it unloaded resolves again, so moving an alias or unloading never fails a
 * request.
 *
 * <p>Created at start-up in the roles that serve ({@link ServingStartup}): its ONNX Runtime
 * environment unpacks and loads the native library, which would otherwise happen inside the first
 * inference call, on a gRPC event loop, and a runtime that cannot load shows at start instead of on
 * a user's request. Other roles never create it.
 */
@ApplicationScoped
public class ModelRegistry {

  private static final Logger LOG = Logger.getLogger(ModelRegistry.class);
  private static final int SUBMIT_ATTEMPTS = 5;

  /** Per-version overrides in the version's metadata. */
  public static final String MAX_BATCH_SIZE_KEY = "graft.serving.max-batch-size";

  public static final String MAX_QUEUE_DELAY_MS_KEY = "graft.serving.max-queue-delay-ms";

  private record Resolved(ModelVersionInfo info, long expiresAtNanos) {}

  /**
   * A model and the output rows it gave for a request; for texts, whether each was cut at the
   * tokenizer's max length (null otherwise).
   */
  public record Answer(ServedModel model, float[] output, boolean[] truncated) {
    public Answer(ServedModel model, float[] output) {
      this(model, output, null);
    }
  }

  private final Function<ModelRef, ModelVersionInfo> resolver;
  private final SessionFactory sessions;
  private final int maxLoaded;
  private final long aliasTtlNanos;
  private final Function<ModelVersionInfo, BatchSettings> batching;
  private final MeterRegistry meters;
  private final Executor completions;

  private final Map<String, Resolved> resolved = new ConcurrentHashMap<>();
  // access-ordered: iteration starts at the least recently used
  private final LinkedHashMap<Long, ServedModel> loaded = new LinkedHashMap<>(16, 0.75f, true);
  private final Map<Long, Object> loadLocks = new ConcurrentHashMap<>();
  private final Map<Long, ModelStats> stats = new ConcurrentHashMap<>();
  private final List<ServedModel> retired = new ArrayList<>();
  private final java.util.Set<String> refreshing = ConcurrentHashMap.newKeySet();
  private volatile boolean outage;

  @Inject
  ModelRegistry(ModelVersions versions, ServingConfig config, MeterRegistry meters) {
    this(versions, config, meters, SessionFactory.of(config));
  }

  private ModelRegistry(
      ModelVersions versions, ServingConfig config, MeterRegistry meters, SessionFactory sessions) {
    this(
        versions::resolve,
        sessions,
        config.maxLoadedModels(),
        config.aliasCacheTtl(),
        info -> batchSettings(config, sessions.provider(), info),
        meters,
        io.smallrye.mutiny.infrastructure.Infrastructure.getDefaultWorkerPool());
  }

  public ModelRegistry(
      Function<ModelRef, ModelVersionInfo> resolver,
      SessionFactory sessions,
      int maxLoaded,
      Duration aliasTtl,
      Function<ModelVersionInfo, BatchSettings> batching,
      MeterRegistry meters,
      Executor completions) {
    if (maxLoaded < 1) {
      throw new GraftException.InvalidArgument(
          "graft.serving.max-loaded-models must be >= 1, got " + maxLoaded);
    }
    this.resolver = resolver;
    this.sessions = sessions;
    this.maxLoaded = maxLoaded;
    this.aliasTtlNanos = aliasTtl.toNanos();
    this.batching = batching;
    this.meters = meters;
    this.completions = completions;
  }

  /** The execution provider sessions are opened with. */
  public ExecutionProvider provider() {
    return sessions.provider();
  }

  /**
   * The version a reference means now (NOT_FOUND when none). While the registry is unreachable an
   * alias keeps what it last meant, without waiting on the database: one background refresh per
   * expiry looks for the end of the outage, and the outage is logged once.
   */
  public ModelVersionInfo resolve(ModelRef ref) {
    String key = key(ref);
    Resolved r = resolved.get(key);
    if (r != null && (!ref.byAlias() || System.nanoTime() < r.expiresAtNanos())) {
      return r.info();
    }
    if (r != null && outage) {
      refreshInBackground(ref, key, r);
      return r.info();
    }
    return refresh(ref, key, r);
  }

  private ModelVersionInfo refresh(ModelRef ref, String key, Resolved r) {
    ModelVersionInfo info;
    try {
      info = resolver.apply(ref);
    } catch (GraftException.NotFound e) {
      resolved.remove(key);
      throw e;
    } catch (RuntimeException e) {
      if (r == null) {
        throw e;
      }
      // The registry is unreachable (a connection failure, however the driver wraps it): keep
      // serving what the reference last meant, and look again only after another TTL.
      if (!outage) {
        outage = true;
        LOG.warnf(
            "model registry unreachable (%s); references keep the versions they last meant until"
                + " it answers again",
            e.toString());
      }
      resolved.put(key, new Resolved(r.info(), System.nanoTime() + aliasTtlNanos));
      return r.info();
    }
    if (outage) {
      outage = false;
      LOG.info("model registry reachable again; aliases follow it");
    }
    resolved.put(key, new Resolved(info, System.nanoTime() + aliasTtlNanos));
    return info;
  }

  private void refreshInBackground(ModelRef ref, String key, Resolved r) {
    if (refreshing.add(key)) {
      try {
        completions.execute(
            () -> {
              try {
                refresh(ref, key, r);
              } catch (RuntimeException e) {
                LOG.debugf("background refresh of %s: %s", ref, e);
              } finally {
                refreshing.remove(key);
              }
            });
      } catch (RuntimeException e) {
        refreshing.remove(key);
      }
    }
  }

  /** The loaded model a reference means, loading it when needed. */
  public ServedModel model(ModelRef ref) {
    return load(resolve(ref));
  }

  /**
   * The loaded model a reference means when that is known without blocking (its resolution is
   * cached and still fresh, and the version is loaded), else null: callers on an event loop take
   * this fast path and hop to a worker only when the registry or a file must be read.
   */
  public ServedModel loadedNow(ModelRef ref) {
    Resolved r = resolved.get(key(ref));
    if (r == null || (ref.byAlias() && System.nanoTime() >= r.expiresAtNanos())) {
      return null;
    }
    synchronized (loaded) {
      ServedModel m = loaded.get(r.info().id());
      return m != null && !m.retired() ? m : null;
    }
  }

  /**
   * Runs {@code rows} examples through the model a reference means. {@code prepare} turns the
   * request into the model's input floats (called again should the alias move to a model with
   * another input between resolving and queueing).
   */
  public CompletableFuture<Answer> infer(
      ModelRef ref, Function<ServedModel, float[]> prepare, int rows) {
    return infer(ref, null, prepare, rows);
  }

  /**
   * As {@link #infer(ModelRef, Function, int)}, trying {@code known} (from {@link #loadedNow})
   * first so that the common case neither resolves nor locks again.
   */
  public CompletableFuture<Answer> infer(
      ModelRef ref, ServedModel known, Function<ServedModel, float[]> prepare, int rows) {
    return submit(ref, known, model -> queue(model, prepare.apply(model), rows));
  }

  /**
   * Queues what {@code prepare} makes of the request for the model a reference means: float rows
   * or, for a token model, texts or token tensors ({@link TokenInput}). {@code prepare} is called
   * again should the alias move between resolving and queueing. Null from it means the model was
   * unloaded meanwhile.
   */
  CompletableFuture<Answer> submit(
      ModelRef ref, ServedModel known, Function<ServedModel, CompletableFuture<Answer>> queue) {
    if (known != null) {
      CompletableFuture<Answer> out = queue.apply(known);
      if (out != null) {
        return out;
      }
      // Unloaded since the caller looked: resolving and loading again read the registry and a
      // file, which must never happen on the caller's thread (a gRPC event loop).
      return CompletableFuture.supplyAsync(() -> submit(ref, null, queue), completions)
          .thenCompose(Function.identity());
    }
    for (int attempt = 0; attempt < SUBMIT_ATTEMPTS; attempt++) {
      ServedModel model = model(ref);
      CompletableFuture<Answer> out = queue.apply(model);
      if (out != null) {
        return out;
      }
      // unloaded between resolving and queueing: resolve again
    }
    throw new GraftException.Unavailable(
        ref.describe() + " was unloaded repeatedly while queueing; retry", null);
  }

  /** Float rows for a float model; null when it was unloaded meanwhile. */
  static CompletableFuture<Answer> queue(ServedModel model, float[] data, int rows) {
    CompletableFuture<float[]> out = model.submit(data, rows);
    return out == null ? null : out.thenApply(values -> new Answer(model, values));
  }

  /** Texts or token tensors for a token model; null when it was unloaded meanwhile. */
  static CompletableFuture<Answer> queue(ServedModel model, TokenInput input) {
    CompletableFuture<float[]> out = model.submit(input);
    return out == null
        ? null
        : out.thenApply(
            values -> new Answer(model, values, input.isText() ? input.truncated() : null));
  }

  /** Whether the version is loaded now. */
  public boolean isLoaded(long versionId) {
    synchronized (loaded) {
      ServedModel m = loaded.get(versionId);
      return m != null && !m.retired();
    }
  }

  /** Statistics of every version served since start. */
  public List<ModelStats.Snapshot> statistics() {
    return stats.values().stream().map(ModelStats::snapshot).toList();
  }

  /** Statistics of one version, when it was served since start. */
  public Optional<ModelStats.Snapshot> statistics(long versionId) {
    return Optional.ofNullable(stats.get(versionId)).map(ModelStats::snapshot);
  }

  /** The loaded model of that version, loading it when needed. */
  public ServedModel load(ModelVersionInfo info) {
    synchronized (loaded) {
      ServedModel m = loaded.get(info.id());
      if (m != null && !m.retired()) {
        return m;
      }
    }
    synchronized (loadLocks.computeIfAbsent(info.id(), id -> new Object())) {
      synchronized (loaded) {
        ServedModel m = loaded.get(info.id());
        if (m != null && !m.retired()) {
          return m;
        }
      }
      ModelStats s =
          stats.computeIfAbsent(
              info.id(), id -> new ModelStats(info.modelName(), info.version(), meters));
      ServedModel model = ServedModel.load(info, sessions, batching.apply(info), s, completions);
      List<ServedModel> evicted = new ArrayList<>();
      synchronized (loaded) {
        loaded.put(info.id(), model);
        Iterator<ServedModel> lru = loaded.values().iterator();
        while (loaded.size() > maxLoaded && lru.hasNext()) {
          ServedModel eldest = lru.next();
          if (eldest != model) {
            lru.remove();
            evicted.add(eldest);
          }
        }
        retired.removeIf(ServedModel::released);
        retired.addAll(evicted);
      }
      for (ServedModel e : evicted) {
        LOG.infof(
            "Unloading %s (least recently used; max-loaded-models=%d)",
            e.info().describe(), maxLoaded);
        e.retire();
      }
      return model;
    }
  }

  /**
   * A moved alias takes effect at once here, and its version is loaded before requests come
   * (delivered by {@link ServingStartup} after the move's commit).
   */
  public void aliasMoved(ModelAliasMoved moved) {
    ModelRef ref = ModelRef.alias(moved.modelName(), moved.alias());
    resolved.put(key(ref), new Resolved(moved.version(), System.nanoTime() + aliasTtlNanos));
    try {
      load(moved.version());
    } catch (RuntimeException e) {
      LOG.warnf(
          "alias '%s' moved to %s, which cannot be loaded: %s",
          moved.alias(), moved.version().describe(), e.getMessage());
    }
  }

  /**
   * Another process moved or removed an alias: if this registry serves it, it asks the registry
   * again and loads the new target before requests come (a removed alias is forgotten). Blocks on
   * the database and the model file: call it off the gRPC event loops.
   */
  public void aliasChanged(String modelName, String alias) {
    ModelRef ref = ModelRef.alias(modelName, alias);
    String key = key(ref);
    Resolved r = resolved.get(key);
    if (r == null) {
      return; // not served here: the first request resolves it
    }
    ModelVersionInfo before = r.info();
    ModelVersionInfo now;
    try {
      now = refresh(ref, key, r);
    } catch (GraftException.NotFound e) {
      LOG.infof("%s was removed", ref.describe());
      return;
    }
    if (now.id() != before.id()) {
      LOG.infof("%s moved to %s (in another process)", ref.describe(), now.describe());
      try {
        load(now);
      } catch (RuntimeException e) {
        LOG.warnf("%s cannot be loaded: %s", now.describe(), e.getMessage());
      }
    }
  }

  /** A version was removed (in any process): references to it resolve again. */
  public void versionRemoved(String modelName, int version) {
    resolved.remove(key(ModelRef.version(modelName, version)));
    resolved
        .entrySet()
        .removeIf(
            e ->
                e.getValue().info().modelName().equals(modelName)
                    && e.getValue().info().version() == version);
  }

  /**
   * Compares every alias served here with the registry and fixes what differs; the number of
   * aliases that had drifted.
   */
  public int reconcile() {
    int drifted = 0;
    for (String key : List.copyOf(resolved.keySet())) {
      int at = key.lastIndexOf('@');
      Resolved r = resolved.get(key);
      if (at < 0 || r == null) {
        continue;
      }
      long before = r.info().id();
      aliasChanged(key.substring(0, at), key.substring(at + 1));
      Resolved after = resolved.get(key);
      if (after == null || after.info().id() != before) {
        drifted++;
      }
    }
    return drifted;
  }

  @PreDestroy
  void shutdown() {
    List<ServedModel> all;
    synchronized (loaded) {
      all = new ArrayList<>(loaded.values());
      all.addAll(retired);
      loaded.clear();
      retired.clear();
    }
    all.forEach(ServedModel::retire);
    for (ServedModel m : all) {
      try {
        if (!m.awaitReleased(5_000)) {
          LOG.warnf("%s still busy at shutdown", m.info().describe());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Closes every session (for tests and benchmarks that build the registry themselves). */
  public void close() {
    shutdown();
  }

  private static String key(ModelRef ref) {
    return ref.name() + (ref.byAlias() ? "@" + ref.alias() : "#" + ref.version());
  }

  /**
   * Config defaults, then the model name's overrides, then the version's metadata; runners left at
   * 0 are chosen for {@code provider}, the one sessions open with.
   */
  static BatchSettings batchSettings(
      ServingConfig config, ExecutionProvider provider, ModelVersionInfo info) {
    ServingConfig.Batching defaults = config.batching();
    boolean enabled = defaults.enabled();
    int size = defaults.maxBatchSize();
    Duration delay = defaults.maxQueueDelay();
    int runners = defaults.runners();
    ServingConfig.BatchingOverride o = config.models().get(info.modelName());
    if (o != null) {
      enabled = o.enabled().orElse(enabled);
      size = o.maxBatchSize().orElse(size);
      delay = o.maxQueueDelay().orElse(delay);
      runners = o.runners().orElse(runners);
    }
    try {
      String s = info.metadata().get(MAX_BATCH_SIZE_KEY);
      if (s != null) {
        size = Integer.parseInt(s.trim());
      }
      String d = info.metadata().get(MAX_QUEUE_DELAY_MS_KEY);
      if (d != null) {
        delay = Duration.ofNanos(Math.round(Double.parseDouble(d.trim()) * 1_000_000));
      }
    } catch (NumberFormatException e) {
      throw new GraftException.FailedPrecondition(
          info.describe() + " has a non-numeric batching override in its metadata: " + e);
    }
    if (runners == 0) {
      runners =
          autoRunners(
              provider, config.intraOpThreads(), Runtime.getRuntime().availableProcessors());
    }
    return new BatchSettings(enabled ? size : 1, delay, defaults.queueCapacity(), runners);
  }

  /**
   * Runners when none are configured: enough single-threaded runs to fill the cores on CPU; one on
   * CUDA, where one run at a time already keeps the device busy.
   */
  static int autoRunners(ExecutionProvider provider, int intraOpThreads, int cores) {
    if (provider == ExecutionProvider.CUDA) {
      return 1;
    }
    return intraOpThreads <= 0 ? 1 : Math.max(1, cores / intraOpThreads);
  }
}
