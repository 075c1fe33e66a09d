package dev.graft.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.graft.core.GraftException;
import dev.graft.model.ModelAliasMoved;
import dev.graft.model.ModelRef;
import dev.graft.model.ModelVersionInfo;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelRegistryTest {

  @TempDir Path dir;
  private final Map<String, ModelVersionInfo> byKey = new ConcurrentHashMap<>();
  private ModelRegistry registry;
  private Inference inference;

  private ModelVersionInfo version(String name, int v, Path file) {
    ModelVersionInfo info =
        new ModelVersionInfo(
            name.hashCode() * 100L + v,
            name,
            v,
            null,
            file,
            "sha",
            0,
            Map.of(),
            List.of(),
            0,
            Map.of(),
            List.of(),
            Instant.now());
    byKey.put(name + "#" + v, info);
    return info;
  }

  private volatile boolean databaseDown;
  private final java.util.concurrent.atomic.AtomicInteger resolutions =
      new java.util.concurrent.atomic.AtomicInteger();

  private ModelVersionInfo resolve(ModelRef ref) {
    resolutions.incrementAndGet();
    if (databaseDown) {
      // As the JDBC driver reports it through Hibernate: a connection failure, wrapped.
      throw new IllegalStateException(
          new java.sql.SQLTransientConnectionException("Connection refused", "08001"));
    }
    ModelVersionInfo info =
        byKey.get(ref.name() + (ref.byAlias() ? "@" + ref.alias() : "#" + ref.version()));
    if (info == null) {
      throw new GraftException.NotFound("model", ref.describe());
    }
    return info;
  }

  private void open(int maxLoaded) {
    open(maxLoaded, Duration.ofMinutes(1));
  }

  private void open(int maxLoaded, Duration aliasTtl) {
    if (registry != null) {
      registry.close();
    }
    registry =
        new ModelRegistry(
            this::resolve,
            SessionFactory.cpu(),
            maxLoaded,
            aliasTtl,
            info -> new BatchSettings(16, Duration.ZERO, 10_000),
            new SimpleMeterRegistry(),
            java.util.concurrent.ForkJoinPool.commonPool());
    inference = new Inference(registry, 256, Runnable::run);
  }

  @BeforeEach
  void setUp() {
    open(1);
  }

  @AfterEach
  void tearDown() {
    registry.close();
  }

  private static float[] randomRows(int rows, int size, long seed) {
    Random r = new Random(seed);
    float[] x = new float[rows * size];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    return x;
  }

  static float[] ortDirect(Path file, float[] x, long[] shape) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(file.toString(), options);
        OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
        OrtSession.Result r = session.run(Map.of("input", t))) {
      FloatBuffer out = ((OnnxTensor) r.get(0)).getFloatBuffer();
      float[] v = new float[out.remaining()];
      out.get(v);
      return v;
    }
  }

  @Test
  void tensorInferenceEqualsOnnxRuntimeOnTheSameFile() throws Exception {
    Path file = OnnxFixtures.cnn(dir.resolve("cnn.onnx"), 10, 7, Map.of());
    version("cnn", 1, file);
    float[] x = randomRows(3, 784, 1);
    TensorResult result =
        inference
            .infer(ModelRef.version("cnn", 1), "input", List.of(3L, 1L, 28L, 28L), x)
            .get(10, TimeUnit.SECONDS);
    assertEquals("logits", result.name());
    assertEquals(List.of(3L, 10L), result.shape());
    assertArrayEquals(ortDirect(file, x, new long[] {3, 1, 28, 28}), result.values(), 1e-6f);
  }

  @Test
  void wrongTensorNameOrShapeNamesWhatTheModelExpects() {
    version("cnn", 1, OnnxFixtures.cnn(dir.resolve("cnn.onnx"), 10, 7, Map.of()));
    ModelRef ref = ModelRef.version("cnn", 1);
    GraftException.InvalidArgument name =
        assertThrows(
            GraftException.InvalidArgument.class,
            () -> inference.infer(ref, "x", List.of(1L, 1L, 28L, 28L), new float[784]));
    assertTrue(name.getMessage().contains("expects one input named 'input'"), name.getMessage());
    GraftException.InvalidArgument shape =
        assertThrows(
            GraftException.InvalidArgument.class,
            () -> inference.infer(ref, "input", List.of(1L, 28L, 28L), new float[784]));
    assertTrue(shape.getMessage().contains("expects [-1, 1, 28, 28]"), shape.getMessage());
  }

  @Test
  void leastRecentlyUsedModelIsUnloadedAfterAnsweringWhatItHadQueued() throws Exception {
    Path a = OnnxFixtures.mlp(dir.resolve("a.onnx"), 8, 16, 3, 1, Map.of());
    Path b = OnnxFixtures.mlp(dir.resolve("b.onnx"), 8, 16, 3, 2, Map.of());
    ModelVersionInfo va = version("a", 1, a);
    ModelVersionInfo vb = version("b", 1, b);
    List<CompletableFuture<TensorResult>> queued = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      queued.add(
          inference.infer(ModelRef.version("a", 1), "input", List.of(1L, 8L), randomRows(1, 8, i)));
    }
    assertTrue(registry.isLoaded(va.id()));
    registry.load(vb); // budget 1: a is unloaded
    assertFalse(registry.isLoaded(va.id()));
    assertTrue(registry.isLoaded(vb.id()));
    for (int i = 0; i < queued.size(); i++) {
      assertArrayEquals(
          ortDirect(a, randomRows(1, 8, i), new long[] {1, 8}),
          queued.get(i).get(10, TimeUnit.SECONDS).values(),
          1e-6f);
    }
    // a is loaded again on its next use
    inference
        .infer(ModelRef.version("a", 1), "input", List.of(1L, 8L), new float[8])
        .get(10, TimeUnit.SECONDS);
    assertTrue(registry.isLoaded(va.id()));
  }

  @Test
  void aMovedAliasAnswersFromTheNewVersionAtOnce() throws Exception {
    open(4);
    Path v1 = OnnxFixtures.mlp(dir.resolve("v1.onnx"), 4, 8, 2, 1, Map.of());
    Path v2 = OnnxFixtures.mlp(dir.resolve("v2.onnx"), 4, 8, 2, 2, Map.of());
    ModelVersionInfo i1 = version("m", 1, v1);
    ModelVersionInfo i2 = version("m", 2, v2);
    byKey.put("m@latest", i1);
    ModelRef latest = ModelRef.latest("m");
    assertEquals(
        1,
        inference
            .predict(latest, List.of(InferenceInput.features(new float[4])), 1)
            .get(10, TimeUnit.SECONDS)
            .answeredBy()
            .version());

    byKey.put("m@latest", i2); // the registry caches aliases: only the event makes it switch now
    assertEquals(1, registry.resolve(latest).version());
    registry.aliasMoved(new ModelAliasMoved("m", "latest", i2));
    assertTrue(registry.isLoaded(i2.id()));
    PredictionResult r =
        inference
            .predict(latest, List.of(InferenceInput.features(new float[] {1, 2, 3, 4})), 0)
            .get(10, TimeUnit.SECONDS);
    assertEquals(2, r.answeredBy().version());
    float[] expected =
        Inference.softmax(ortDirect(v2, new float[] {1, 2, 3, 4}, new long[] {1, 4}));
    List<ClassScore> scores = r.predictions().get(0);
    assertEquals(2, scores.size());
    for (ClassScore s : scores) {
      assertEquals(expected[s.index()], s.score(), 1e-6f);
    }
    assertTrue(scores.get(0).score() >= scores.get(1).score());
  }

  @Test
  void aModelUnloadedBeforeQueueingIsReloadedOnAWorkerNotOnTheCallersThread() throws Exception {
    ModelVersionInfo va =
        version("a", 1, OnnxFixtures.mlp(dir.resolve("a.onnx"), 8, 16, 3, 1, Map.of()));
    ModelVersionInfo vb =
        version("b", 1, OnnxFixtures.mlp(dir.resolve("b.onnx"), 8, 16, 3, 2, Map.of()));
    ModelRef a = ModelRef.version("a", 1);
    registry.model(a);
    ServedModel known = registry.loadedNow(a); // what an event-loop caller found loaded
    registry.load(vb); // budget 1: a is unloaded before the caller queues
    assertFalse(registry.isLoaded(va.id()));

    List<Thread> preparedOn = new java.util.concurrent.CopyOnWriteArrayList<>();
    ModelRegistry.Answer answer =
        registry
            .infer(
                a,
                known,
                m -> {
                  preparedOn.add(Thread.currentThread());
                  return new float[8];
                },
                1)
            .get(10, TimeUnit.SECONDS);
    assertEquals(va.id(), answer.model().info().id());
    assertTrue(registry.isLoaded(va.id()));
    // First against the unloaded model on the caller's thread, then, reloaded, on a worker.
    assertEquals(2, preparedOn.size());
    assertEquals(Thread.currentThread(), preparedOn.get(0));
    assertTrue(preparedOn.get(1) != Thread.currentThread(), preparedOn.toString());
  }

  @Test
  void duringADatabaseOutageAnAliasAnswersWithoutWaitingAndFollowsItOnceBack() throws Exception {
    open(4, Duration.ofMillis(50));
    ModelVersionInfo i1 =
        version("m", 1, OnnxFixtures.mlp(dir.resolve("v1.onnx"), 4, 8, 2, 1, Map.of()));
    ModelVersionInfo i2 =
        version("m", 2, OnnxFixtures.mlp(dir.resolve("v2.onnx"), 4, 8, 2, 2, Map.of()));
    byKey.put("m@latest", i1);
    ModelRef latest = ModelRef.latest("m");
    assertEquals(1, registry.resolve(latest).version());

    databaseDown = true;
    byKey.put("m@latest", i2); // moved by another replica meanwhile
    resolutions.set(0);
    for (int round = 0; round < 3; round++) {
      Thread.sleep(60); // the cached resolution expires
      for (int i = 0; i < 100; i++) {
        assertEquals(1, registry.resolve(latest).version());
      }
    }
    // One lookup found the outage; after that at most one background refresh per expiry.
    assertTrue(resolutions.get() <= 3, "resolutions during the outage: " + resolutions.get());

    databaseDown = false;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    int seen = 1;
    while (seen != 2 && System.nanoTime() < deadline) {
      Thread.sleep(60);
      seen = registry.resolve(latest).version();
    }
    assertEquals(2, seen);
  }

  @Test
  void aFileOnnxRuntimeCannotReadIsFailedPrecondition() throws Exception {
    Path bad = dir.resolve("bad.onnx");
    Files.write(bad, new byte[] {1, 2, 3});
    version("bad", 1, bad);
    GraftException.FailedPrecondition e =
        assertThrows(
            GraftException.FailedPrecondition.class,
            () -> registry.model(ModelRef.version("bad", 1)));
    assertTrue(e.getMessage().contains("model 'bad' version 1 cannot be loaded"), e.getMessage());
  }

  @Test
  void runnersFillTheCoresWithSingleThreadedRunsOnCpuAndAreOneOnCuda() {
    assertEquals(8, ModelRegistry.autoRunners(ExecutionProvider.CPU, 1, 8));
    assertEquals(4, ModelRegistry.autoRunners(ExecutionProvider.CPU, 2, 8));
    assertEquals(1, ModelRegistry.autoRunners(ExecutionProvider.CPU, 0, 8));
    assertEquals(1, ModelRegistry.autoRunners(ExecutionProvider.CPU, 16, 8));
    assertEquals(1, ModelRegistry.autoRunners(ExecutionProvider.CUDA, 1, 8));
  }
}
