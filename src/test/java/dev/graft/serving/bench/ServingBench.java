package dev.graft.serving.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.kserve.ModelInferRequest;
import dev.graft.api.kserve.ModelStatistics;
import dev.graft.api.kserve.ModelStatisticsRequest;
import dev.graft.api.v1.FloatVector;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictStreamRequest;
import dev.graft.api.v1.PredictStreamResponse;
import dev.graft.serving.OnnxFixtures;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Serving benchmark (not a test): the packaged service through gRPC against ONNX Runtime called
 * in-process on the same model and input, all in one run, reported as ratios.
 *
 * <pre>
 * mvn -o -DskipTests package
 * mvn -o -q dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test
 * java -Xss16m -cp target/test-classes:target/classes:$(cat target/bench.cp) \
 *     dev.graft.serving.bench.ServingBench [--requests 100000] [--seconds 3] [--window 8]
 * </pre>
 *
 * <p>{@code -Xss16m}: with a classpath this long on the command line, ONNX Runtime crashes while
 * creating its environment on the main thread with the default 1 MiB stack.
 *
 * <p>With {@code --serve} it only starts the service with the two fixture models (bench-cnn, a
 * small CNN on 1×28×28 images, and bench-mlp, 4 features) and waits: for trying clients by hand.
 */
public final class ServingBench {

  private static final String ON = "bench-cnn";
  private static final String OFF = "bench-cnn-unbatched";

  private ServingBench() {}

  public static void main(String[] args) throws Exception {
    int requests = intArg(args, "--requests", 100_000);
    int seconds = intArg(args, "--seconds", 3);
    int window = intArg(args, "--window", 8);
    Path work = Files.createTempDirectory(Path.of("target"), "bench-");
    Path cnn =
        OnnxFixtures.cnn(
            work.resolve("cnn.onnx"),
            10,
            42,
            OnnxFixtures.metadata(digits(), dev.graft.data.Preprocessing.unitScale(1, 28, 28)));
    Path mlp = OnnxFixtures.mlp(work.resolve("mlp.onnx"), 4, 16, 3, 1, Map.of());
    try (BenchServer server =
        BenchServer.start(
            Path.of("target/quarkus-app/quarkus-run.jar"),
            work.resolve("data"),
            List.of("-Xmx1g"))) {
      server.register(ON, cnn, digits(), Map.of());
      server.register(OFF, cnn, digits(), Map.of("graft.serving.max-batch-size", "1"));
      server.register("bench-mlp", mlp, List.of("setosa", "versicolor", "virginica"), Map.of());
      if (Arrays.asList(args).contains("--serve")) {
        System.out.println(
            "Graft serving on localhost:"
                + server.port()
                + " (pid "
                + server.pid()
                + ") with models "
                + ON
                + ", "
                + OFF
                + ", bench-mlp; data in "
                + work);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
      }
      run(server, cnn, requests, seconds, window);
    }
  }

  private static void run(BenchServer server, Path cnn, int requests, int seconds, int window)
      throws Exception {
    float[] x = new float[784];
    Random random = new Random(1);
    for (int i = 0; i < x.length; i++) {
      x[i] = random.nextFloat();
    }
    System.out.printf(
        Locale.ROOT,
        "Graft serving benchmark: model %s (1x28x28 CNN), %d cores%n",
        ON,
        Runtime.getRuntime().availableProcessors());

    // In-process ONNX Runtime: the ceiling.
    double[] ortLatency;
    double ortBest = 0;
    int ortBestBatch = 0;
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(cnn.toString(), options)) {
      ortLatency = latencies(5000, 2000, () -> ortRun(env, session, x, 1));
      for (int batch : new int[] {1, 8, 16, 32, 64}) {
        float[] xs = new float[batch * 784];
        for (int b = 0; b < batch; b++) {
          System.arraycopy(x, 0, xs, b * 784, 784);
        }
        double perSecond = throughput(seconds, batch, () -> ortRun(env, session, xs, batch));
        System.out.printf(
            Locale.ROOT, "  in-process ORT batch %-3d %,12.0f examples/s%n", batch, perSecond);
        if (perSecond > ortBest) {
          ortBest = perSecond;
          ortBestBatch = batch;
        }
      }
    }

    // Unary through gRPC.
    var inference = InferenceServiceGrpc.newBlockingStub(server.channel);
    PredictRequest predict = predictRequest(ON, x);
    double[] grpcLatency = latencies(5000, 2000, () -> inference.predict(predict));
    var kserve = GRPCInferenceServiceGrpc.newBlockingStub(server.channel);
    ByteBuffer raw = ByteBuffer.allocate(784 * 4).order(ByteOrder.LITTLE_ENDIAN);
    raw.asFloatBuffer().put(x);
    ModelInferRequest infer =
        ModelInferRequest.newBuilder()
            .setModelName(ON)
            .addInputs(
                ModelInferRequest.InferInputTensor.newBuilder()
                    .setName("input")
                    .setDatatype("FP32")
                    .addAllShape(List.of(1L, 1L, 28L, 28L)))
            .addRawInputContents(ByteString.copyFrom(raw.array()))
            .build();
    double[] kserveLatency = latencies(5000, 2000, () -> kserve.modelInfer(infer));

    System.out.printf(
        Locale.ROOT, "%nUnary latency (ms)           p50      p99   p50 overhead vs ORT%n");
    System.out.printf(
        Locale.ROOT, "  in-process ORT         %8.3f %8.3f%n", ortLatency[0], ortLatency[1]);
    System.out.printf(
        Locale.ROOT,
        "  gRPC Predict           %8.3f %8.3f   +%.3f ms (x%.2f)%n",
        grpcLatency[0],
        grpcLatency[1],
        grpcLatency[0] - ortLatency[0],
        grpcLatency[0] / ortLatency[0]);
    System.out.printf(
        Locale.ROOT,
        "  gRPC KServe ModelInfer %8.3f %8.3f   +%.3f ms (x%.2f)%n",
        kserveLatency[0],
        kserveLatency[1],
        kserveLatency[0] - ortLatency[0],
        kserveLatency[0] / ortLatency[0]);

    System.out.printf(
        Locale.ROOT,
        "%nThroughput (examples/s), %d requests in flight per stream; ORT best = batch %d, %,.0f/s%n",
        window,
        ortBestBatch,
        ortBest);
    System.out.printf(Locale.ROOT, "  streams   batching on   ratio   batching off   ratio%n");
    for (int streams : new int[] {1, 8, 64}) {
      ModelStatistics onBefore = stats(server, ON);
      double on = streams(server, ON, x, streams, window, seconds, 0).perSecond;
      String onDetail = detail(onBefore, stats(server, ON));
      ModelStatistics offBefore = stats(server, OFF);
      double off = streams(server, OFF, x, streams, window, seconds, 0).perSecond;
      String offDetail = detail(offBefore, stats(server, OFF));
      System.out.printf(
          Locale.ROOT,
          "  %7d   %,11.0f   %5.2f   %,12.0f   %5.2f%n",
          streams,
          on,
          on / ortBest,
          off,
          off / ortBest);
      System.out.printf(
          Locale.ROOT, "           on:  %s%n           off: %s%n", onDetail, offDetail);
    }

    // Acceptance load and memory: 64 streams, every answer checked for order.
    ModelStatistics before = stats(server, ON);
    long rssBefore = server.rssKib();
    Load load = streams(server, ON, x, 64, window, 0, (requests + 63) / 64);
    long rssAfter = server.rssKib();
    ModelStatistics after = stats(server, ON);
    long inferences = after.getInferenceCount() - before.getInferenceCount();
    long executions = after.getExecutionCount() - before.getExecutionCount();
    System.out.printf(
        Locale.ROOT,
        "%n64 streams x %d requests: %,d answered, %d errors, %d out of order, %.0f/s, average batch %.2f%n",
        (requests + 63) / 64,
        load.answered,
        load.errors.get(),
        load.outOfOrder.get(),
        load.perSecond,
        (double) inferences / executions);
    System.out.printf(
        Locale.ROOT,
        "Server RSS before %,d KiB, after %,d KiB (%+.1f%%)%n",
        rssBefore,
        rssAfter,
        100.0 * (rssAfter - rssBefore) / rssBefore);
  }

  /** Server-side view between two statistics: average batch, queue and compute time per request. */
  private static String detail(ModelStatistics a, ModelStatistics b) {
    long n = b.getInferenceCount() - a.getInferenceCount();
    long runs = b.getExecutionCount() - a.getExecutionCount();
    var x = a.getInferenceStats();
    var y = b.getInferenceStats();
    long q = y.getQueue().getCount() - x.getQueue().getCount();
    return String.format(
        Locale.ROOT,
        "average batch %.2f, per request: queue %.3f ms, compute %.3f ms, end to end %.3f ms",
        (double) n / Math.max(1, runs),
        (y.getQueue().getNs() - x.getQueue().getNs()) / 1e6 / Math.max(1, q),
        (y.getComputeInfer().getNs() - x.getComputeInfer().getNs()) / 1e6 / Math.max(1, q),
        (y.getSuccess().getNs() - x.getSuccess().getNs()) / 1e6 / Math.max(1, q));
  }

  private static ModelStatistics stats(BenchServer server, String name) {
    return GRPCInferenceServiceGrpc.newBlockingStub(server.channel)
        .modelStatistics(ModelStatisticsRequest.newBuilder().setName(name).setVersion("1").build())
        .getModelStats(0);
  }

  private static PredictRequest predictRequest(String model, float[] x) {
    FloatVector.Builder v = FloatVector.newBuilder();
    for (float f : x) {
      v.addValues(f);
    }
    return PredictRequest.newBuilder()
        .setModel(ModelRef.newBuilder().setName(model))
        .addInputs(Input.newBuilder().setFeatures(v))
        .setTopK(1)
        .build();
  }

  private static final class Load {
    long answered;
    double perSecond;
    final AtomicLong errors = new AtomicLong();
    final AtomicLong outOfOrder = new AtomicLong();
  }

  /**
   * {@code streams} streams, each keeping {@code window} requests in flight, for a time or count.
   */
  private static Load streams(
      BenchServer server,
      String model,
      float[] x,
      int streams,
      int window,
      int seconds,
      int perStream)
      throws Exception {
    PredictRequest request = predictRequest(model, x);
    var stub = InferenceServiceGrpc.newStub(server.channel);
    Load load = new Load();
    AtomicLong answered = new AtomicLong();
    CountDownLatch done = new CountDownLatch(streams);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<Thread> senders = new ArrayList<>();
    long start = System.nanoTime();
    for (int s = 0; s < streams; s++) {
      Semaphore permits = new Semaphore(window);
      AtomicLong expected = new AtomicLong();
      AtomicReference<StreamObserver<PredictStreamRequest>> out = new AtomicReference<>();
      out.set(
          stub.predictStream(
              new StreamObserver<>() {
                @Override
                public void onNext(PredictStreamResponse r) {
                  if (Long.parseLong(r.getId()) != expected.getAndIncrement()) {
                    load.outOfOrder.incrementAndGet();
                  }
                  if (r.hasError()) {
                    load.errors.incrementAndGet();
                  }
                  answered.incrementAndGet();
                  permits.release();
                }

                @Override
                public void onError(Throwable t) {
                  load.errors.incrementAndGet();
                  done.countDown();
                }

                @Override
                public void onCompleted() {
                  done.countDown();
                }
              }));
      Thread sender =
          new Thread(
              () -> {
                try {
                  for (long i = 0;
                      perStream > 0 ? i < perStream : System.nanoTime() < deadline;
                      i++) {
                    permits.acquire();
                    out.get()
                        .onNext(
                            PredictStreamRequest.newBuilder()
                                .setId(Long.toString(i))
                                .setRequest(request)
                                .build());
                  }
                  out.get().onCompleted();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      sender.start();
      senders.add(sender);
    }
    if (!done.await(600, TimeUnit.SECONDS)) {
      throw new IllegalStateException("streams did not finish");
    }
    for (Thread t : senders) {
      t.join();
    }
    load.answered = answered.get();
    load.perSecond = load.answered / ((System.nanoTime() - start) / 1e9);
    return load;
  }

  private static void ortRun(OrtEnvironment env, OrtSession session, float[] x, int batch) {
    try (OnnxTensor t =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {batch, 1, 28, 28});
        OrtSession.Result r = session.run(Map.of("input", t))) {
      FloatBuffer out = ((OnnxTensor) r.get(0)).getFloatBuffer();
      float[] v = new float[out.remaining()];
      out.get(v);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** p50 and p99 in milliseconds. */
  private static double[] latencies(int samples, int warmup, Runnable call) {
    for (int i = 0; i < warmup; i++) {
      call.run();
    }
    long[] nanos = new long[samples];
    for (int i = 0; i < samples; i++) {
      long t = System.nanoTime();
      call.run();
      nanos[i] = System.nanoTime() - t;
    }
    Arrays.sort(nanos);
    return new double[] {nanos[samples / 2] / 1e6, nanos[(int) (samples * 0.99)] / 1e6};
  }

  private static double throughput(int seconds, int batch, Runnable call) {
    long warm = System.nanoTime() + 300_000_000L;
    while (System.nanoTime() < warm) {
      call.run();
    }
    long start = System.nanoTime();
    long end = start + TimeUnit.SECONDS.toNanos(seconds);
    long runs = 0;
    while (System.nanoTime() < end) {
      call.run();
      runs++;
    }
    return runs * batch / ((System.nanoTime() - start) / 1e9);
  }

  private static List<String> digits() {
    return List.of("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine");
  }

  private static int intArg(String[] args, String name, int fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return Integer.parseInt(args[i + 1]);
      }
    }
    return fallback;
  }
}
