package dev.graft.serving.bench;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.DownloadModelVersionResponse;
import dev.graft.api.v1.FloatVector;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PredictRequest;
import dev.graft.serving.OnnxFixtures;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Transport benchmark (not a test): what receiving a large message costs the server, against a bare
 * grpc-java server (the baseline, {@link PlainGrpcServer}) in the same run, for Graft as it is and
 * for Graft with gRPC on the Vert.x server of the HTTP port (as before).
 *
 * <pre>
 * mvn -o -DskipTests package
 * mvn -o -q dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat target/bench.cp) \
 *     dev.graft.serving.bench.TransportBench [--targets plain,graft,graft-vertx]
 * </pre>
 *
 * <p>Each server runs alone as its own process. Per request size (10 KB to 60 MB) it prints the
 * median wall time of a Predict carrying one image of that size for a feature model (refused with
 * INVALID_ARGUMENT once parsed: the time is receiving and parsing the message) and the server's CPU
 * per request (from /proc), then their ratio to the baseline; a 60 MB DownloadModelVersion (1 MiB
 * chunks); and the p50/p99/max of small Predicts (8 features, a real model) alone and while three
 * clients send a 60 MB request each at the same moment (five rounds).
 */
public final class TransportBench {

  private static final int[] SIZES = {10_000, 1_000_000, 4_000_000, 16_000_000, 60_000_000};
  private static final int DOWNLOAD_BYTES = 60_000_000;
  private static final long LARGE_DEADLINE_S = 60;
  private static final int ROUNDS = 5;

  private TransportBench() {}

  /** A server under measurement. */
  private interface Target extends AutoCloseable {
    ManagedChannel channel();

    int port();

    long cpuNanos() throws Exception;
  }

  public static void main(String[] args) throws Exception {
    List<String> targets = List.of(arg(args, "--targets", "plain,graft,graft-vertx").split(","));
    Path work = Files.createTempDirectory(Path.of("target"), "transport-bench-");
    Path mlp = OnnxFixtures.mlp(work.resolve("mlp.onnx"), 8, 16, 3, 7, Map.of());
    Path big = work.resolve("big.bin");
    byte[] bigBytes = new byte[DOWNLOAD_BYTES];
    new Random(1).nextBytes(bigBytes);
    Files.write(big, bigBytes);
    Map<String, Map<String, double[]>> results = new LinkedHashMap<>();
    for (String name : targets) {
      System.out.println("== " + name);
      try (Target target = start(name, work, mlp, big)) {
        results.put(name, measure(target));
      }
    }
    Map<String, double[]> base = results.get("plain");
    if (base != null) {
      System.out.println("== ratios to plain (wall, server CPU)");
      for (var e : results.entrySet()) {
        if (e.getKey().equals("plain")) {
          continue;
        }
        for (var row : e.getValue().entrySet()) {
          double[] b = base.get(row.getKey());
          double[] v = row.getValue();
          if (b != null && v.length >= 2 && b.length >= 2) {
            System.out.printf(
                Locale.ROOT,
                "%-12s %-16s wall %6.2fx  cpu %6.2fx%n",
                e.getKey(),
                row.getKey(),
                v[0] / b[0],
                b[1] > 0 ? v[1] / b[1] : Double.NaN);
          }
        }
      }
    }
  }

  private static Target start(String name, Path work, Path mlp, Path big) throws Exception {
    List<String> jvm = new ArrayList<>(List.of("-Xmx2g"));
    switch (name) {
      case "plain" -> {
        int port = BenchServer.freePort();
        Process p =
            new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx2g",
                    "-cp",
                    System.getProperty("java.class.path"),
                    PlainGrpcServer.class.getName(),
                    Integer.toString(port),
                    big.toString())
                .redirectErrorStream(true)
                .start();
        BufferedReader out =
            new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (line == null || !line.startsWith("READY")) {
          throw new IllegalStateException("plain server did not start: " + line);
        }
        ManagedChannel channel = channel(port);
        return new Target() {
          public ManagedChannel channel() {
            return channel;
          }

          public int port() {
            return port;
          }

          public long cpuNanos() throws Exception {
            return BenchServer.processCpuNanos(p.pid());
          }

          public void close() throws Exception {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            p.destroy();
            p.waitFor(30, TimeUnit.SECONDS);
          }
        };
      }
      case "graft", "graft-vertx" -> {
        if (name.equals("graft-vertx")) {
          jvm.add("-Dquarkus.grpc.server.use-separate-server=false");
        }
        BenchServer server =
            BenchServer.start(
                Path.of("target/quarkus-app/quarkus-run.jar"), work.resolve(name), List.of(), jvm);
        server.register("bench-mlp", mlp, List.of("a", "b", "c"), Map.of());
        server.register("bench-big", big, List.of("a"), Map.of());
        ManagedChannel channel = channel(server.port());
        return new Target() {
          public ManagedChannel channel() {
            return channel;
          }

          public int port() {
            return server.port();
          }

          public long cpuNanos() throws Exception {
            return server.cpuNanos();
          }

          public void close() throws Exception {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.close();
          }
        };
      }
      default -> throw new IllegalArgumentException("unknown target " + name);
    }
  }

  private static ManagedChannel channel(int port) {
    return ManagedChannelBuilder.forAddress("localhost", port)
        .usePlaintext()
        .maxInboundMessageSize(64 << 20)
        .build();
  }

  private static PredictRequest large(int bytes) {
    byte[] image = new byte[bytes];
    new Random(bytes).nextBytes(image);
    return PredictRequest.newBuilder()
        .setModel(ModelRef.newBuilder().setName("bench-mlp"))
        .addInputs(Input.newBuilder().setImage(ByteString.copyFrom(image)))
        .build();
  }

  private static PredictRequest small() {
    FloatVector.Builder v = FloatVector.newBuilder();
    for (int i = 0; i < 8; i++) {
      v.addValues(i * 0.1f);
    }
    return PredictRequest.newBuilder()
        .setModel(ModelRef.newBuilder().setName("bench-mlp"))
        .addInputs(Input.newBuilder().setFeatures(v))
        .build();
  }

  /** Sends one large request; returns its status code (INVALID_ARGUMENT once it was parsed). */
  private static Status.Code send(ManagedChannel channel, PredictRequest request) {
    try {
      InferenceServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(LARGE_DEADLINE_S, TimeUnit.SECONDS)
          .predict(request);
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  /** Rows: name → {median wall ms, server CPU ms per request}. */
  private static Map<String, double[]> measure(Target target) throws Exception {
    Map<String, double[]> rows = new LinkedHashMap<>();
    ManagedChannel channel = target.channel();
    for (int i = 0; i < 200; i++) { // warm-up: JIT, the model loaded and its alias cached
      InferenceServiceGrpc.newBlockingStub(channel).predict(small());
      send(channel, large(10_000));
    }
    for (int size : SIZES) {
      PredictRequest request = large(size);
      int reps = size <= 10_000 ? 200 : size <= 4_000_000 ? 10 : 3;
      send(channel, request);
      long[] walls = new long[reps];
      long cpu0 = target.cpuNanos();
      Status.Code code = null;
      for (int r = 0; r < reps; r++) {
        long t0 = System.nanoTime();
        code = send(channel, request);
        walls[r] = System.nanoTime() - t0;
        if (code == Status.Code.DEADLINE_EXCEEDED) {
          reps = r + 1;
          walls = Arrays.copyOf(walls, reps);
          break;
        }
      }
      double cpuMs = (target.cpuNanos() - cpu0) / 1e6 / reps;
      Arrays.sort(walls);
      double wallMs = walls[walls.length / 2] / 1e6;
      rows.put("predict " + human(size), new double[] {wallMs, cpuMs});
      System.out.printf(
          Locale.ROOT,
          "predict %-6s %4d reps  wall %9.2f ms (median)  server CPU %9.2f ms/request  -> %s%n",
          human(size),
          reps,
          wallMs,
          cpuMs,
          code);
    }
    rows.put("download 60 MB", download(target));
    rows.putAll(smallUnderLoad(target));
    return rows;
  }

  private static double[] download(Target target) throws Exception {
    ManagedChannel channel = target.channel();
    DownloadModelVersionRequest request =
        DownloadModelVersionRequest.newBuilder()
            .setModel(ModelRef.newBuilder().setName("bench-big"))
            .setChunkSize(1 << 20)
            .build();
    long[] walls = new long[4];
    long cpu0 = 0;
    for (int r = -1; r < walls.length; r++) { // r = -1: warm-up
      if (r == 0) {
        cpu0 = target.cpuNanos();
      }
      long t0 = System.nanoTime();
      long bytes = 0;
      Iterator<DownloadModelVersionResponse> it =
          ModelServiceGrpc.newBlockingStub(channel)
              .withDeadlineAfter(LARGE_DEADLINE_S, TimeUnit.SECONDS)
              .downloadModelVersion(request);
      while (it.hasNext()) {
        bytes += it.next().getChunk().size();
      }
      if (bytes != DOWNLOAD_BYTES) {
        throw new IllegalStateException("downloaded " + bytes + " bytes");
      }
      if (r >= 0) {
        walls[r] = System.nanoTime() - t0;
      }
    }
    double cpuMs = (target.cpuNanos() - cpu0) / 1e6 / walls.length;
    Arrays.sort(walls);
    double wallMs = walls[walls.length / 2] / 1e6;
    System.out.printf(
        Locale.ROOT,
        "download 60 MB (1 MiB chunks)  wall %9.2f ms (median)  server CPU %9.2f ms%n",
        wallMs,
        cpuMs);
    return new double[] {wallMs, cpuMs};
  }

  /** Small Predicts alone, then while three clients keep sending 60 MB requests. */
  private static Map<String, double[]> smallUnderLoad(Target target) throws Exception {
    ManagedChannel channel = target.channel();
    Map<String, double[]> rows = new LinkedHashMap<>();
    List<Long> alone = smallFor(channel, 3_000, new AtomicBoolean(true));
    rows.put("small alone", summary("small alone", alone, ""));
    PredictRequest large = large(60_000_000);
    AtomicInteger done = new AtomicInteger();
    List<Long> largeMs = Collections.synchronizedList(new ArrayList<>());
    List<Long> during = new ArrayList<>();
    List<ManagedChannel> owned = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      owned.add(channel(target.port())); // each sender its own connection, as three clients
    }
    for (int round = 0; round < ROUNDS; round++) {
      // Three 60 MB requests sent at once; small requests measured until all three are answered.
      AtomicBoolean loading = new AtomicBoolean(true);
      AtomicInteger left = new AtomicInteger(owned.size());
      for (ManagedChannel own : owned) {
        new Thread(
                () -> {
                  long t0 = System.nanoTime();
                  Status.Code code = send(own, large);
                  largeMs.add((System.nanoTime() - t0) / 1_000_000);
                  if (code == Status.Code.INVALID_ARGUMENT) {
                    done.incrementAndGet();
                  }
                  if (left.decrementAndGet() == 0) {
                    loading.set(false);
                  }
                })
            .start();
      }
      during.addAll(smallFor(channel, TimeUnit.SECONDS.toMillis(LARGE_DEADLINE_S + 5), loading));
      while (loading.get()) {
        Thread.sleep(10);
      }
      Thread.sleep(300);
      if (largeMs.stream().anyMatch(ms -> ms > 10_000)) {
        break; // one slow round says enough
      }
    }
    for (ManagedChannel own : owned) {
      own.shutdownNow();
    }
    rows.put(
        "small under load",
        summary(
            "small while 3 x 60 MB arrive",
            during,
            "; 60 MB requests answered: " + done.get() + ", took (ms) " + largeMs));
    return rows;
  }

  private static List<Long> smallFor(ManagedChannel channel, long millis, AtomicBoolean go) {
    List<Long> micros = new ArrayList<>();
    PredictRequest request = small();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    while (System.nanoTime() < end && go.get()) {
      long t0 = System.nanoTime();
      InferenceServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(LARGE_DEADLINE_S, TimeUnit.SECONDS)
          .predict(request);
      micros.add((System.nanoTime() - t0) / 1000);
      try {
        Thread.sleep(5); // about 150 small requests a second, a steady light load
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return micros;
  }

  private static double[] summary(String what, List<Long> micros, String extra) {
    List<Long> sorted = new ArrayList<>(micros);
    Collections.sort(sorted);
    double p50 = sorted.get(sorted.size() / 2) / 1000.0;
    double p99 = sorted.get(Math.min(sorted.size() - 1, (int) (sorted.size() * 0.99))) / 1000.0;
    double max = sorted.get(sorted.size() - 1) / 1000.0;
    System.out.printf(
        Locale.ROOT,
        "%-30s %5d requests  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms%s%n",
        what,
        sorted.size(),
        p50,
        p99,
        max,
        extra);
    return new double[] {p99};
  }

  private static String human(int bytes) {
    return bytes >= 1_000_000 ? bytes / 1_000_000 + " MB" : bytes / 1000 + " KB";
  }

  private static String arg(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return fallback;
  }
}
