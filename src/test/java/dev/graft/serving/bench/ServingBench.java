package dev.graft.serving.bench;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.ModelProto;
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
import dev.graft.data.Preprocessing;
import dev.graft.model.Architectures;
import dev.graft.model.InputSpec;
import dev.graft.model.ResNetMini;
import dev.graft.serving.ModelRegistry;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serving benchmark (not a test): the packaged service through gRPC against ONNX Runtime called
 * in-process on the same model and input, all in one run, reported as ratios.
 *
 * <pre>
 * mvn -o -DskipTests package
 * mvn -o -q dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test
 * java -Xss16m -cp target/test-classes:target/classes:$(cat target/bench.cp) \
 *     dev.graft.serving.bench.ServingBench [--models cnn-small,resnet-mini,resnet-wide,tiny] \
 *     [--seconds 2] [--samples 3000] [--window 8] [--requests 100000] \
 *     [--server-opt -XX:StartFlightRecording=...] \
 *     [--jar target/quarkus-app/quarkus-run.jar] [--server-cores 0]
 * </pre>
 *
 * <p>{@code -Xss16m}: with a classpath this long on the command line, ONNX Runtime crashes while
 * creating its environment on the main thread with the default 1 MiB stack.
 *
 * <p>The served models are Graft's own built-in architectures exported to ONNX with the metadata
 * training writes ({@code graft.labels}, {@code graft.preprocessing}) and registered as model
 * versions, each twice: {@code bench-NAME} (batching as configured) and {@code
 * bench-NAME-unbatched} (max batch size 1):
 *
 * <ul>
 *   <li>{@code cnn-small}: {@code Architectures.get("cnn-small").classifier(10, 42)}, 1×28×28, "the
 *       small CNN" of the latency target;
 *   <li>{@code resnet-mini}: the residual network on 3×32×32 (about 0.12 ms of CPU per example);
 *   <li>{@code resnet-wide}: the same network with stages of 32, 64 and 128 channels and two blocks
 *       each, a CIFAR-sized ResNet (about 0.85 ms per example), a model whose compute dominates a
 *       request;
 *   <li>{@code tiny}: a two-layer test CNN of about 10 µs per example, where nearly all of a
 *       request is gRPC and serving overhead.
 * </ul>
 *
 * <p>Every model is loaded and every request path warmed up first. What it prints, per model:
 * in-process ORT examples/s at batch 1..64, called three ways (the best of all is the throughput
 * reference, stricter than one caller at its best batch size); unary p50/p99 latency of in-process
 * ORT, gRPC {@code Predict} and KServe {@code ModelInfer} (one example, features / raw FP32) and
 * their p50 overhead; examples/s over {@code PredictStream} at 1, 8 and 64 streams (each keeping
 * {@code --window} requests in flight) with batching on and off, their ratio to ORT's best (ORT is
 * measured before and after the gRPC runs and the better kept, so load from elsewhere cannot
 * flatter the ratios), the server's view (average batch, queue and compute time per request) and
 * the CPU time the server and the bench client spent per request (they share the machine's cores,
 * so the client's share is capacity the server did not have), with the server's CPU by thread
 * group; "server alone" is what the server's CPU per request allows on its cores with the client
 * elsewhere (an estimate; {@code --server-cores} measures it); a last row sends 8 examples per
 * request. Then 64 streams × {@code --requests}/64 requests on the first model: errors, order,
 * average batch and the server's RSS before and after.
 *
 * <p>With {@code --serve} it only starts the service with the models and waits: for trying clients
 * by hand. {@code --server-opt} (repeatable) passes a JVM option to the server, e.g. {@code
 * -XX:StartFlightRecording=filename=target/server.jfr,settings=profile} to profile it, or a setting
 * such as {@code -Dgraft.serving.intra-op-spinning=false}; {@code --jar} serves another build (e.g.
 * main's, for a before/after in one session). {@code --server-cores} (a taskset CPU list) runs the
 * server and the in-process reference on those cores and the client on the others: the ratios then
 * compare the server with ONNX Runtime on the same cores, without the client's share.
 */
public final class ServingBench {

  /** A served model: its file, per-example input size and shape (batch dimension excluded). */
  private record BenchModel(String key, String description, Path onnx, long[] exampleShape) {
    String on() {
      return "bench-" + key;
    }

    String off() {
      return "bench-" + key + "-unbatched";
    }

    int rowSize() {
      long n = 1;
      for (long d : exampleShape) {
        n *= d;
      }
      return Math.toIntExact(n);
    }
  }

  private ServingBench() {}

  private static Placement placement;

  /**
   * Where things run. Shared (the default): server, client and the in-process reference on every
   * core. With {@code --server-cores LIST} (a taskset CPU list): the server and the in-process
   * reference on those cores, the load-generating client on the others, so the client takes nothing
   * from the server, as with a client on another machine.
   */
  private record Placement(List<Integer> server, List<Integer> client) {
    static Placement of(String serverCores) {
      int n = Runtime.getRuntime().availableProcessors();
      List<Integer> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        all.add(i);
      }
      if (serverCores == null) {
        return new Placement(all, all);
      }
      List<Integer> server = new ArrayList<>();
      for (String part : serverCores.split(",")) {
        String[] range = part.split("-");
        int from = Integer.parseInt(range[0].trim());
        int to = range.length > 1 ? Integer.parseInt(range[1].trim()) : from;
        for (int c = from; c <= to; c++) {
          server.add(c);
        }
      }
      List<Integer> client = new ArrayList<>(all);
      client.removeAll(server);
      if (server.isEmpty() || client.isEmpty() || !all.containsAll(server)) {
        throw new IllegalArgumentException(
            "--server-cores " + serverCores + " must name some but not all of cores " + all);
      }
      return new Placement(server, client);
    }

    boolean split() {
      return !server.equals(client);
    }

    /** The server's command prefix. */
    List<String> serverPrefix() {
      return split() ? List.of("taskset", "-c", list(server)) : List.of();
    }

    /** Moves this process (every thread) to the server's cores, for the in-process reference. */
    void onServerCores() throws Exception {
      pin(server);
    }

    /** Moves this process back to the client's cores. */
    void onClientCores() throws Exception {
      pin(client);
    }

    private void pin(List<Integer> cores) throws Exception {
      if (!split()) {
        return;
      }
      Process p =
          new ProcessBuilder(
                  "taskset",
                  "-a",
                  "-p",
                  "-c",
                  list(cores),
                  Long.toString(ProcessHandle.current().pid()))
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (p.waitFor() != 0) {
        throw new IllegalStateException("taskset failed to move the bench to cores " + cores);
      }
    }

    private static String list(List<Integer> cores) {
      return String.join(",", cores.stream().map(String::valueOf).toList());
    }
  }

  public static void main(String[] args) throws Exception {
    int requests = intArg(args, "--requests", 100_000);
    int seconds = intArg(args, "--seconds", 2);
    int window = intArg(args, "--window", 8);
    int samples = intArg(args, "--samples", 3000);
    List<String> keys =
        List.of(stringArg(args, "--models", "cnn-small,resnet-mini,resnet-wide,tiny").split(","));
    List<String> serverOptions = new ArrayList<>(List.of("-Xmx1g"));
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals("--server-opt")) {
        serverOptions.add(args[i + 1]);
      }
    }
    placement = Placement.of(stringArg(args, "--server-cores", null));
    Path work = Files.createTempDirectory(Path.of("target"), "bench-");
    List<BenchModel> models = new ArrayList<>();
    for (String key : keys) {
      models.add(model(key, work));
    }
    try (BenchServer server =
        BenchServer.start(
            Path.of(stringArg(args, "--jar", "target/quarkus-app/quarkus-run.jar")),
            work.resolve("data"),
            placement.serverPrefix(),
            serverOptions)) {
      for (BenchModel m : models) {
        server.register(m.on(), m.onnx(), digits(), Map.of());
        server.register(m.off(), m.onnx(), digits(), Map.of(ModelRegistry.MAX_BATCH_SIZE_KEY, "1"));
      }
      if (Arrays.asList(args).contains("--serve")) {
        System.out.println(
            "Graft serving on localhost:"
                + server.port()
                + " (pid "
                + server.pid()
                + ") with models "
                + models.stream().map(m -> m.on() + ", " + m.off()).toList()
                + "; data in "
                + work);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
      }
      System.out.printf(
          Locale.ROOT,
          "Graft serving benchmark: %d cores, %s, %d s per throughput point, %d latency samples,"
              + " window %d%n",
          Runtime.getRuntime().availableProcessors(),
          placement.split()
              ? "server and in-process ORT on cores "
                  + placement.server()
                  + ", client on cores "
                  + placement.client()
              : "server, client and in-process ORT sharing them",
          seconds,
          samples,
          window);
      placement.onClientCores();
      warmUp(server, models, samples, window);
      for (BenchModel m : models) {
        run(server, m, seconds, samples, window);
      }
      memory(server, models.get(0), requests, window);
    }
  }

  private static BenchModel model(String key, Path work) throws Exception {
    Path file = work.resolve(key + ".onnx");
    switch (key) {
      case "cnn-small" -> {
        write(Architectures.get("cnn-small").classifier(10, 42), file, 1, 28, 28);
        return new BenchModel(key, "cnn-small, 1x28x28", file, new long[] {1, 28, 28});
      }
      case "resnet-mini" -> {
        write(
            Architectures.get("resnet-mini", InputSpec.image(3, 32, 32)).classifier(10, 42),
            file,
            3,
            32,
            32);
        return new BenchModel(key, "resnet-mini, 3x32x32", file, new long[] {3, 32, 32});
      }
      case "tiny" -> {
        OnnxFixtures.cnn(
            file, 10, 42, OnnxFixtures.metadata(digits(), Preprocessing.unitScale(1, 28, 28)));
        return new BenchModel(key, "tiny test CNN, 1x28x28", file, new long[] {1, 28, 28});
      }
      case "resnet-wide" -> {
        write(
            new ResNetMini(InputSpec.image(3, 32, 32), List.of(32, 64, 128), List.of(2, 2, 2))
                .classifier(10, 42),
            file,
            3,
            32,
            32);
        return new BenchModel(
            key, "resnet 32-64-128 x2 blocks, 3x32x32", file, new long[] {3, 32, 32});
      }
      default ->
          throw new IllegalArgumentException(
              "unknown bench model "
                  + key
                  + "; expected cnn-small, resnet-mini, resnet-wide or tiny");
    }
  }

  /** The architecture's graph with the metadata a trained model carries, as training exports it. */
  private static void write(ModelProto graph, Path file, int channels, int height, int width)
      throws Exception {
    ModelProto.Builder b = graph.toBuilder();
    OnnxFixtures.metadata(digits(), Preprocessing.unitScale(channels, height, width))
        .forEach(
            (k, v) ->
                b.addMetadataProps(
                    OnnxMl.StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
    Files.write(file, b.build().toByteArray());
  }

  private static void run(BenchServer server, BenchModel m, int seconds, int samples, int window)
      throws Exception {
    int rowSize = m.rowSize();
    float[] x = new float[rowSize];
    Random random = new Random(1);
    for (int i = 0; i < x.length; i++) {
      x[i] = random.nextFloat();
    }
    System.out.printf(Locale.ROOT, "%n== %s (%s) ==%n", m.on(), m.description());

    // In-process ONNX Runtime: the ceiling. Measured again after the gRPC runs and the better
    // of the two kept, so that a burst of load from elsewhere on a shared machine does not lower
    // it.
    placement.onServerCores();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    double[] ortLatency;
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(m.onnx().toString(), options)) {
      ortLatency =
          latencies(samples, samples / 3, () -> ortRun(env, session, x, 1, m.exampleShape()));
    }
    OrtBest ort = ortBest(env, m, x, seconds);
    placement.onClientCores();

    // Unary through gRPC.
    var inference = InferenceServiceGrpc.newBlockingStub(server.channel);
    PredictRequest predict = predictRequest(m.on(), x);
    Cpu cpu = Cpu.start(server);
    double[] grpcLatency = latencies(samples, samples / 3, () -> inference.predict(predict));
    String predictCpu = cpu.perRequest(samples + samples / 3);
    var kserve = GRPCInferenceServiceGrpc.newBlockingStub(server.channel);
    ByteBuffer raw = ByteBuffer.allocate(rowSize * 4).order(ByteOrder.LITTLE_ENDIAN);
    raw.asFloatBuffer().put(x);
    ModelInferRequest.InferInputTensor.Builder tensor =
        ModelInferRequest.InferInputTensor.newBuilder()
            .setName("input")
            .setDatatype("FP32")
            .addShape(1L);
    for (long d : m.exampleShape()) {
      tensor.addShape(d);
    }
    ModelInferRequest infer =
        ModelInferRequest.newBuilder()
            .setModelName(m.on())
            .addInputs(tensor)
            .addRawInputContents(ByteString.copyFrom(raw.array()))
            .build();
    cpu = Cpu.start(server);
    double[] kserveLatency = latencies(samples, samples / 3, () -> kserve.modelInfer(infer));
    String kserveCpu = cpu.perRequest(samples + samples / 3);

    System.out.printf(
        Locale.ROOT, "  unary latency (ms)      p50      p99   p50 overhead   CPU per request%n");
    System.out.printf(
        Locale.ROOT, "  in-process ORT     %8.3f %8.3f%n", ortLatency[0], ortLatency[1]);
    System.out.printf(
        Locale.ROOT,
        "  gRPC Predict       %8.3f %8.3f   %+8.3f ms    %s%n",
        grpcLatency[0],
        grpcLatency[1],
        grpcLatency[0] - ortLatency[0],
        predictCpu);
    System.out.printf(
        Locale.ROOT,
        "  KServe ModelInfer  %8.3f %8.3f   %+8.3f ms    %s%n",
        kserveLatency[0],
        kserveLatency[1],
        kserveLatency[0] - ortLatency[0],
        kserveCpu);

    double[] on = new double[3];
    double[] off = new double[3];
    double[] serverOnly = new double[3];
    long errors = 0;
    List<String> details = new ArrayList<>();
    int[] streamCounts = {1, 8, 64};
    for (int i = 0; i < streamCounts.length; i++) {
      int streams = streamCounts[i];
      ModelStatistics onBefore = stats(server, m.on());
      cpu = Cpu.start(server);
      Load loadOn = streams(server, m.on(), x, streams, window, seconds, 0, 1);
      // What the server alone would serve with every core to itself (client elsewhere): cores
      // divided by its CPU time per request.
      serverOnly[i] = placement.server().size() * 1e9 / cpu.serverNanosPer(loadOn.answered);
      details.add(
          "  "
              + streams
              + " on:  "
              + detail(onBefore, stats(server, m.on()))
              + "; "
              + cpu.perRequest(loadOn.answered)
              + "\n    "
              + cpu.byThread(loadOn.answered));
      ModelStatistics offBefore = stats(server, m.off());
      cpu = Cpu.start(server);
      Load loadOff = streams(server, m.off(), x, streams, window, seconds, 0, 1);
      details.add(
          "  "
              + streams
              + " off: "
              + detail(offBefore, stats(server, m.off()))
              + "; "
              + cpu.perRequest(loadOff.answered));
      on[i] = loadOn.perSecond;
      off[i] = loadOff.perSecond;
      errors += loadOn.errors.get() + loadOff.errors.get();
    }
    // Clients that batch themselves: the same load with 8 examples in every request, so that a
    // message's fixed cost is shared by 8 examples.
    ModelStatistics multiBefore = stats(server, m.on());
    cpu = Cpu.start(server);
    Load multi = streams(server, m.on(), x, 64, window, seconds, 0, 8);
    details.add(
        "  64 on, 8 examples per request: "
            + detail(multiBefore, stats(server, m.on()))
            + "; "
            + cpu.perRequest(multi.answered));
    errors += multi.errors.get();
    placement.onServerCores();
    OrtBest again = ortBest(env, m, x, seconds);
    placement.onClientCores();
    if (again.perSecond() > ort.perSecond()) {
      ort = again;
    }
    System.out.printf(
        Locale.ROOT,
        "  PredictStream examples/s, %d in flight per stream; ORT best (of both measurements) ="
            + " batch %d, %s, %,.0f/s%s%n",
        window,
        ort.batch(),
        ort.way(),
        ort.perSecond(),
        errors > 0 ? "; ERRORS " + errors : "");
    System.out.printf(
        Locale.ROOT,
        "  streams   batching on   ratio   server alone   ratio   batching off   ratio%n");
    for (int i = 0; i < streamCounts.length; i++) {
      System.out.printf(
          Locale.ROOT,
          "  %7d   %,11.0f   %5.2f   %,12.0f   %5.2f   %,12.0f   %5.2f%n",
          streamCounts[i],
          on[i],
          on[i] / ort.perSecond(),
          serverOnly[i],
          serverOnly[i] / ort.perSecond(),
          off[i],
          off[i] / ort.perSecond());
    }
    System.out.printf(
        Locale.ROOT,
        "       64   %,11.0f   %5.2f   (8 examples per request)%n",
        multi.perSecond,
        multi.perSecond / ort.perSecond());
    details.forEach(System.out::println);
  }

  /** The best in-process ORT examples/s, at which batch size and called which way. */
  private record OrtBest(double perSecond, int batch, String way) {}

  /**
   * In-process ORT examples/s at batch 1..64, printed for three ways of calling it: one caller with
   * ONNX Runtime's default threads (one per core) spinning (its default) and not, and one caller
   * per core on a session of one thread each (what the server does by default); returns the best,
   * its batch size and its way.
   */
  private static OrtBest ortBest(OrtEnvironment env, BenchModel m, float[] x, int seconds)
      throws Exception {
    int rowSize = m.rowSize();
    int cores = placement.server().size();
    double best = 0;
    int bestBatch = 0;
    String bestWay = "";
    for (String way :
        List.of("1 caller, spinning", "1 caller, no spinning", cores + " callers, 1 thread")) {
      boolean parallel = way.endsWith("1 thread");
      try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
        if (!way.endsWith(", spinning")) {
          options.addConfigEntry("session.intra_op.allow_spinning", "0");
        }
        if (parallel) {
          options.setIntraOpNumThreads(1);
        } else if (placement.split()) {
          // Left to itself ONNX Runtime starts a thread per core of the machine and pins them,
          // escaping taskset: name the count so that its threads stay on the server's cores.
          options.setIntraOpNumThreads(cores);
        }
        try (OrtSession session = env.createSession(m.onnx().toString(), options)) {
          StringBuilder line = new StringBuilder("  in-process ORT examples/s, " + way + ":");
          for (int batch : new int[] {1, 8, 16, 32, 64}) {
            float[] xs = new float[batch * rowSize];
            for (int b = 0; b < batch; b++) {
              System.arraycopy(x, 0, xs, b * rowSize, rowSize);
            }
            double perSecond =
                throughput(
                    seconds,
                    batch,
                    parallel ? cores : 1,
                    () -> ortRun(env, session, xs, batch, m.exampleShape()));
            line.append(String.format(Locale.ROOT, "  b%d %,.0f", batch, perSecond));
            if (perSecond > best) {
              best = perSecond;
              bestBatch = batch;
              bestWay = way;
            }
          }
          System.out.println(line);
        }
      }
    }
    return new OrtBest(best, bestBatch, bestWay);
  }

  /**
   * Loads every model and lets the server's JIT compile the request paths before anything is
   * measured: otherwise the first model measured pays for both.
   */
  private static void warmUp(BenchServer server, List<BenchModel> models, int samples, int window)
      throws Exception {
    var inference = InferenceServiceGrpc.newBlockingStub(server.channel);
    for (BenchModel m : models) {
      float[] x = new float[m.rowSize()];
      for (String name : List.of(m.on(), m.off())) {
        PredictRequest request = predictRequest(name, x);
        for (int i = 0; i < samples / 3; i++) {
          inference.predict(request);
        }
        streams(server, name, x, 8, window, 1, 0, 1);
      }
    }
  }

  /** Acceptance load and memory: 64 streams, every answer checked for order. */
  private static void memory(BenchServer server, BenchModel m, int requests, int window)
      throws Exception {
    float[] x = new float[m.rowSize()];
    Arrays.fill(x, 0.5f);
    ModelStatistics before = stats(server, m.on());
    long rssBefore = server.rssKib();
    Cpu cpu = Cpu.start(server);
    Load load = streams(server, m.on(), x, 64, window, 0, (requests + 63) / 64, 1);
    String perRequest = cpu.perRequest(load.answered);
    long rssAfter = server.rssKib();
    ModelStatistics after = stats(server, m.on());
    long inferences = after.getInferenceCount() - before.getInferenceCount();
    long executions = after.getExecutionCount() - before.getExecutionCount();
    System.out.printf(
        Locale.ROOT,
        "%n%s, 64 streams x %d requests: %,d answered, %d errors, %d out of order, %.0f/s, average"
            + " batch %.2f, %s%n",
        m.on(),
        (requests + 63) / 64,
        load.answered,
        load.errors.get(),
        load.outOfOrder.get(),
        load.perSecond,
        (double) inferences / executions,
        perRequest);
    System.out.printf(
        Locale.ROOT,
        "Server RSS before %,d KiB, after %,d KiB (%+.1f%%)%n",
        rssBefore,
        rssAfter,
        100.0 * (rssAfter - rssBefore) / rssBefore);
  }

  /** CPU time of the server process and of this (client) process over one measurement. */
  private record Cpu(
      BenchServer server, long serverNanos, long clientNanos, Map<String, Long> threads) {
    static Cpu start(BenchServer server) throws java.io.IOException {
      return new Cpu(server, server.cpuNanos(), clientCpuNanos(), server.cpuNanosByThreadGroup());
    }

    /** The server's CPU per request by thread group, largest first (groups under 1 µs left out). */
    String byThread(long requests) throws java.io.IOException {
      double n = Math.max(1, requests);
      StringBuilder s = new StringBuilder("server CPU per request by thread (µs):");
      server.cpuNanosByThreadGroup().entrySet().stream()
          .map(e -> Map.entry(e.getKey(), e.getValue() - threads.getOrDefault(e.getKey(), 0L)))
          .filter(e -> e.getValue() / n >= 1_000)
          .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
          .forEach(
              e ->
                  s.append(
                      String.format(Locale.ROOT, " %s %.0f;", e.getKey(), e.getValue() / n / 1e3)));
      return s.toString();
    }

    /** Server CPU nanoseconds per request since the start. */
    double serverNanosPer(long requests) throws java.io.IOException {
      return (server.cpuNanos() - serverNanos) / (double) Math.max(1, requests);
    }

    String perRequest(long requests) throws java.io.IOException {
      double n = Math.max(1, requests);
      return String.format(
          Locale.ROOT,
          "CPU per request: server %.3f ms, client %.3f ms",
          serverNanosPer(requests) / 1e6,
          (clientCpuNanos() - clientNanos) / 1e6 / n);
    }

    private static long clientCpuNanos() {
      return ((com.sun.management.OperatingSystemMXBean)
              java.lang.management.ManagementFactory.getOperatingSystemMXBean())
          .getProcessCpuTime();
    }
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
    return predictRequest(model, x, 1);
  }

  /** A request of {@code examples} copies of {@code x}. */
  private static PredictRequest predictRequest(String model, float[] x, int examples) {
    FloatVector.Builder v = FloatVector.newBuilder();
    for (float f : x) {
      v.addValues(f);
    }
    PredictRequest.Builder b =
        PredictRequest.newBuilder().setModel(ModelRef.newBuilder().setName(model)).setTopK(1);
    for (int i = 0; i < examples; i++) {
      b.addInputs(Input.newBuilder().setFeatures(v));
    }
    return b.build();
  }

  private static final class Load {
    long answered;
    double perSecond;
    final AtomicLong errors = new AtomicLong();
    final AtomicLong outOfOrder = new AtomicLong();
  }

  /**
   * {@code streams} streams, each keeping {@code window} requests of {@code examples} examples in
   * flight, for a time or count; {@code perSecond} counts examples. Each response sends the next
   * request from its callback, so the client needs no thread per stream and no hand-over between
   * threads: it shares the cores with the server, and every microsecond it spends is one the server
   * does not have.
   */
  private static Load streams(
      BenchServer server,
      String model,
      float[] x,
      int streams,
      int window,
      int seconds,
      int perStream,
      int examples)
      throws Exception {
    PredictRequest request = predictRequest(model, x, examples);
    var stub = InferenceServiceGrpc.newStub(server.channel);
    Load load = new Load();
    AtomicLong answered = new AtomicLong();
    CountDownLatch done = new CountDownLatch(streams);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    long start = System.nanoTime();
    List<LoadStream> all = new ArrayList<>();
    for (int s = 0; s < streams; s++) {
      LoadStream stream =
          new LoadStream(request, perStream, deadline, load, answered, done::countDown);
      stream.out = stub.predictStream(stream);
      all.add(stream);
    }
    for (LoadStream stream : all) {
      for (int i = 0; i < window; i++) {
        stream.sendNext();
      }
    }
    if (!done.await(600, TimeUnit.SECONDS)) {
      throw new IllegalStateException("streams did not finish");
    }
    load.answered = answered.get();
    load.perSecond = load.answered * examples / ((System.nanoTime() - start) / 1e9);
    return load;
  }

  /** One stream of the load: sends while under its count or before its deadline. */
  private static final class LoadStream implements StreamObserver<PredictStreamResponse> {
    private final PredictRequest request;
    private final int perStream;
    private final long deadline;
    private final Load load;
    private final AtomicLong answered;
    private final Runnable finished;
    private StreamObserver<PredictStreamRequest> out;
    private long sent;
    private long expected;
    private boolean halfClosed;

    LoadStream(
        PredictRequest request,
        int perStream,
        long deadline,
        Load load,
        AtomicLong answered,
        Runnable finished) {
      this.request = request;
      this.perStream = perStream;
      this.deadline = deadline;
      this.load = load;
      this.answered = answered;
      this.finished = finished;
    }

    /** Sends the next request, or half-closes once there is none. */
    synchronized void sendNext() {
      if (halfClosed) {
        return;
      }
      if (perStream > 0 ? sent < perStream : System.nanoTime() < deadline) {
        out.onNext(
            PredictStreamRequest.newBuilder()
                .setId(Long.toString(sent++))
                .setRequest(request)
                .build());
      } else {
        halfClosed = true;
        out.onCompleted();
      }
    }

    @Override
    public void onNext(PredictStreamResponse r) {
      synchronized (this) {
        if (Long.parseLong(r.getId()) != expected++) {
          load.outOfOrder.incrementAndGet();
        }
      }
      if (r.hasError()) {
        load.errors.incrementAndGet();
      }
      answered.incrementAndGet();
      sendNext();
    }

    @Override
    public void onError(Throwable t) {
      load.errors.incrementAndGet();
      finished.run();
    }

    @Override
    public void onCompleted() {
      finished.run();
    }
  }

  private static void ortRun(
      OrtEnvironment env, OrtSession session, float[] x, int batch, long[] exampleShape) {
    long[] shape = new long[exampleShape.length + 1];
    shape[0] = batch;
    System.arraycopy(exampleShape, 0, shape, 1, exampleShape.length);
    try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
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

  /** Examples/s of {@code callers} threads each making {@code call} (a batch) in a loop. */
  private static double throughput(int seconds, int batch, int callers, Runnable call)
      throws InterruptedException {
    long warm = System.nanoTime() + 300_000_000L;
    long end = warm + TimeUnit.SECONDS.toNanos(seconds);
    AtomicLong runs = new AtomicLong();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < callers; c++) {
      Thread t =
          new Thread(
              () -> {
                long now;
                while ((now = System.nanoTime()) < end) {
                  call.run();
                  if (now >= warm) {
                    runs.incrementAndGet();
                  }
                }
              });
      t.start();
      threads.add(t);
    }
    for (Thread t : threads) {
      t.join();
    }
    return runs.get() * batch / ((System.nanoTime() - warm) / 1e9);
  }

  private static List<String> digits() {
    return List.of("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine");
  }

  private static String stringArg(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return fallback;
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
