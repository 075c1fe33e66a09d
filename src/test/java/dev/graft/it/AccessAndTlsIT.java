package dev.graft.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.kserve.ServerLiveRequest;
import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetExamples;
import dev.graft.api.v1.DatasetHeader;
import dev.graft.api.v1.DatasetKind;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DeleteDatasetRequest;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.ListDatasetsRequest;
import dev.graft.api.v1.ListExperimentsRequest;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.SetModelAliasRequest;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.UploadCommit;
import dev.graft.api.v1.UploadDatasetRequest;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The issue's acceptance of access control, from outside: two packaged services started side by
 * side with API keys (reader, trainer, admin) and TLS on both ports from a test CA's certificates
 * laid out like a mounted Secret. The first checks the roles over gRPC and HTTPS and that the TLS
 * ports refuse plaintext; the second requires client certificates on gRPC (mTLS) and has per-client
 * limits (a rate of 0.2 calls/s with a burst of 4, uploads of at most 4096 bytes).
 */
class AccessAndTlsIT {

  private static final String READER = "reader-it-key-7f3a";
  private static final String TRAINER = "trainer-it-key-91c2";
  private static final String ADMIN = "admin-it-key-0d5e";
  private static final String SEND_KEY = "send 'authorization: Bearer <api key>'";

  private static final Path ROOT = Path.of("target", "it-access-" + System.nanoTime());
  private static TestPki pki;
  private static GraftProcess tls;
  private static GraftProcess mtls;
  private static int tlsHttpsPort;
  private static int mtlsHttpsPort;
  private static final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeAll
  static void startBoth() throws Exception {
    Files.createDirectories(ROOT);
    pki = TestPki.create(ROOT.resolve("pki"));
    tlsHttpsPort = GraftProcess.freePort();
    mtlsHttpsPort = GraftProcess.freePort();
    tls = service("tls", tlsHttpsPort, false, List.of());
    mtls =
        service(
            "mtls",
            mtlsHttpsPort,
            true,
            List.of(
                "-Dgraft.tls.client-auth=required",
                "-Dgraft.limits.requests-per-second=0.2",
                "-Dgraft.limits.burst=4",
                "-Dgraft.limits.max-upload-bytes=4096"));
    tls.launch();
    mtls.launch();
    tls.awaitReady(Duration.ofMinutes(2));
    mtls.awaitReady(Duration.ofMinutes(2));
  }

  private static GraftProcess service(
      String name, int httpsPort, boolean clientCert, List<String> more) throws IOException {
    Path dir = ROOT.resolve(name);
    Files.createDirectories(dir);
    List<String> args = new ArrayList<>();
    args.add("-Dgraft.auth.enabled=true");
    args.add("-Dgraft.auth.keys." + sha256(READER) + "=reader");
    args.add("-Dgraft.auth.keys." + sha256(TRAINER) + "=trainer");
    args.add("-Dgraft.auth.keys." + sha256(ADMIN) + "=admin");
    args.add("-Dgraft.tls.dir=" + pki.secretDir.toAbsolutePath());
    args.add("-Dquarkus.http.ssl-port=" + httpsPort);
    args.addAll(more);
    return new GraftProcess(
            dir, GraftProcess.freePort(), GraftProcess.freePort(), dir.resolve("service.log"))
        .withArgs(args)
        .withChannel(port -> channel(port, clientCert), key(ADMIN));
  }

  @AfterAll
  static void stopBoth() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    for (GraftProcess p : new GraftProcess[] {tls, mtls}) {
      if (p != null) {
        p.close();
        p.postmaster().ifPresent(ProcessHandle::destroy);
      }
    }
  }

  // --- gRPC ------------------------------------------------------------------------------

  @Test
  void withoutAKeyEveryCallIsUnauthenticated() {
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                DatasetServiceGrpc.newBlockingStub(channel(tls.grpcPort(), false))
                    .withDeadlineAfter(20, TimeUnit.SECONDS)
                    .listDatasets(ListDatasetsRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    assertEquals(SEND_KEY, e.getStatus().getDescription());
    // an unknown key is the same as none
    e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                datasets(tls, "not-a-key").listDatasets(ListDatasetsRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
  }

  @Test
  void aReaderReadsAndPredictsButMayNotDeleteOrTrain() {
    datasets(tls, READER).listDatasets(ListDatasetsRequest.getDefaultInstance());
    assertTrue(
        GRPCInferenceServiceGrpc.newBlockingStub(channel(tls.grpcPort(), false))
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key(READER)))
            .withDeadlineAfter(20, TimeUnit.SECONDS)
            .serverLive(ServerLiveRequest.getDefaultInstance())
            .getLive());
    // Predict is let through: it fails only because there is no model yet
    StatusRuntimeException predict =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                InferenceServiceGrpc.newBlockingStub(channel(tls.grpcPort(), false))
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key(READER)))
                    .withDeadlineAfter(20, TimeUnit.SECONDS)
                    .predict(
                        PredictRequest.newBuilder()
                            .setModel(ModelRef.newBuilder().setName("absent"))
                            .build()));
    assertFalse(
        predict.getStatus().getCode() == Status.Code.PERMISSION_DENIED
            || predict.getStatus().getCode() == Status.Code.UNAUTHENTICATED,
        predict.getStatus().toString());

    assertDenied(
        "role reader may not call graft.v1.DatasetService/DeleteDataset; it needs admin",
        () ->
            datasets(tls, READER)
                .deleteDataset(DeleteDatasetRequest.newBuilder().setId(1).build()));
    assertDenied(
        "role reader may not call graft.v1.TrainingService/StartRun; it needs trainer",
        () ->
            TrainingServiceGrpc.newBlockingStub(channel(tls.grpcPort(), false))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key(READER)))
                .withDeadlineAfter(20, TimeUnit.SECONDS)
                .startRun(StartRunRequest.newBuilder().setExperimentId(1).build()));
  }

  @Test
  void aTrainerUploadsButOnlyAnAdminDeletesOrMovesAnAlias() throws Exception {
    Dataset uploaded = upload(tls, TRAINER, "trainer-upload", 4).get(60, TimeUnit.SECONDS);
    assertDenied(
        "role trainer may not call graft.v1.DatasetService/DeleteDataset; it needs admin",
        () ->
            datasets(tls, TRAINER)
                .deleteDataset(DeleteDatasetRequest.newBuilder().setId(uploaded.getId()).build()));
    assertDenied(
        "role trainer may not call graft.v1.ModelService/SetModelAlias; it needs admin",
        () ->
            ModelServiceGrpc.newBlockingStub(channel(tls.grpcPort(), false))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key(TRAINER)))
                .withDeadlineAfter(20, TimeUnit.SECONDS)
                .setModelAlias(
                    SetModelAliasRequest.newBuilder()
                        .setModelName("m")
                        .setAlias("prod")
                        .setVersion(1)
                        .build()));

    datasets(tls, ADMIN)
        .deleteDataset(DeleteDatasetRequest.newBuilder().setId(uploaded.getId()).build());
    assertFalse(
        datasets(tls, READER)
            .listDatasets(ListDatasetsRequest.getDefaultInstance())
            .getDatasetsList()
            .stream()
            .anyMatch(d -> d.getId() == uploaded.getId()));
    awaitLog(
        tls,
        "method=graft\\.v1\\.DatasetService/DeleteDataset role=admin key="
            + sha256(ADMIN).substring(0, 8)
            + " peer=/127\\.0\\.0\\.1:\\d+ outcome=OK");
    awaitLog(
        tls,
        "method=graft\\.v1\\.DatasetService/DeleteDataset role=trainer key="
            + sha256(TRAINER).substring(0, 8)
            + " peer=/127\\.0\\.0\\.1:\\d+ outcome=PERMISSION_DENIED");
  }

  @Test
  void theTlsGrpcPortRefusesPlaintext() throws Exception {
    ManagedChannel plain =
        ManagedChannelBuilder.forAddress("localhost", tls.grpcPort()).usePlaintext().build();
    channels.add(plain);
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                ExperimentServiceGrpc.newBlockingStub(plain)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key(ADMIN)))
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .listExperiments(ListExperimentsRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
  }

  @Test
  void mutualTlsRefusesAClientWithoutACertificate() {
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                DatasetServiceGrpc.newBlockingStub(channel(mtls.grpcPort(), false))
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key(ADMIN)))
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .listDatasets(ListDatasetsRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    // with the client certificate (the channel the start-up probe used) it answers
    datasets(mtls, ADMIN).listDatasets(ListDatasetsRequest.getDefaultInstance());
  }

  @Test
  void aClientOverItsRateIsRefusedOnGrpcAndHttp() throws Exception {
    String pattern =
        "rate limit of 0\\.2 requests/s for key "
            + sha256(READER).substring(0, 8)
            + " exceeded; retry in \\d+ ms \\(graft\\.limits\\.requests-per-second,"
            + " graft\\.limits\\.burst\\)";
    for (int i = 0; i < 4; i++) {
      datasets(mtls, READER).listDatasets(ListDatasetsRequest.getDefaultInstance());
    }
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () -> datasets(mtls, READER).listDatasets(ListDatasetsRequest.getDefaultInstance()));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().matches(pattern), e.getStatus().getDescription());

    HttpResponse<String> limited = https(mtlsHttpsPort, "GET", "/api/experiments", READER);
    assertEquals(429, limited.statusCode(), limited.body());
    long retryAfter = Long.parseLong(limited.headers().firstValue("Retry-After").orElseThrow());
    assertTrue(retryAfter >= 1 && retryAfter <= 5, "Retry-After " + retryAfter);
    assertTrue(limited.body().matches("\\{\"error\":\"" + pattern + "\"}"), limited.body());
    // another client is not held back
    assertEquals(200, https(mtlsHttpsPort, "GET", "/api/experiments", TRAINER).statusCode());
  }

  @Test
  void anUploadOverTheLimitIsRefusedAndNothingIsStored() throws Exception {
    Dataset small = upload(mtls, TRAINER, "small-upload", 4).get(60, TimeUnit.SECONDS);
    assertEquals(4, small.getExampleCount());
    Path area = ROOT.resolve("mtls").resolve("datasets");
    List<Path> before = storedFiles(area);
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> upload(mtls, TRAINER, "large-upload", 200).get(60, TimeUnit.SECONDS));
    Status status = Status.fromThrowable(e.getCause());
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), status.toString());
    assertTrue(
        status
            .getDescription()
            .matches(
                "graft\\.v1\\.DatasetService/UploadDataset from key "
                    + sha256(TRAINER).substring(0, 8)
                    + " sent \\d+ bytes, more than graft\\.limits\\.max-upload-bytes \\(4096\\);"
                    + " nothing was stored: upload less or raise"
                    + " graft\\.limits\\.max-upload-bytes"),
        status.getDescription());
    List<String> names =
        datasets(mtls, ADMIN)
            .listDatasets(ListDatasetsRequest.getDefaultInstance())
            .getDatasetsList()
            .stream()
            .map(Dataset::getName)
            .toList();
    assertEquals(List.of("small-upload"), names);
    // the refused stream's staged file is gone (aborted as the service saw the stream cancelled)
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<Path> files = storedFiles(area);
    while (!files.equals(before) && System.nanoTime() < deadline) {
      Thread.sleep(100);
      files = storedFiles(area);
    }
    assertEquals(before, files);
  }

  // --- HTTP ------------------------------------------------------------------------------

  @Test
  void httpsApiNeedsAKeyAndTheRoleTheMethodNeeds() throws Exception {
    HttpResponse<String> none = https(tlsHttpsPort, "GET", "/api/experiments", null);
    assertEquals(401, none.statusCode());
    assertEquals(
        "Bearer realm=\"graft\"", none.headers().firstValue("WWW-Authenticate").orElse(""));
    assertEquals("{\"error\":\"" + SEND_KEY + "\"}", none.body());

    HttpResponse<String> reader = https(tlsHttpsPort, "GET", "/api/experiments", READER);
    assertEquals(200, reader.statusCode(), reader.body());

    HttpResponse<String> delete = https(tlsHttpsPort, "DELETE", "/api/experiments/1", READER);
    assertEquals(403, delete.statusCode());
    assertEquals(
        "{\"error\":\"role reader may not call DELETE /api/experiments/1; it needs admin\"}",
        delete.body());
    // an admin gets past the check (no such endpoint: 405), and the attempt is audited
    HttpResponse<String> admin = https(tlsHttpsPort, "DELETE", "/api/experiments/1", ADMIN);
    assertEquals(405, admin.statusCode(), admin.body());
    awaitLog(
        tls,
        "http=DELETE /api/experiments/1 role=admin key="
            + sha256(ADMIN).substring(0, 8)
            + " peer=127\\.0\\.0\\.1 outcome=405");

    // probes, metrics and the dashboard's files need no key
    assertEquals(200, https(tlsHttpsPort, "GET", "/q/health/ready", null).statusCode());
    assertEquals(200, https(tlsHttpsPort, "GET", "/q/metrics", null).statusCode());
    HttpResponse<String> page = https(tlsHttpsPort, "GET", "/index.html", null);
    assertEquals(200, page.statusCode());
    assertTrue(page.body().contains("id=\"api-key\""), page.body());
  }

  @Test
  void httpIsServedOnlyOverTls() {
    HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    // the plain HTTP port is not opened at all
    assertThrows(
        ConnectException.class,
        () ->
            plain.send(
                HttpRequest.newBuilder(
                        URI.create("http://localhost:" + tls.httpPort() + "/q/health/ready"))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString()));
    // and plain HTTP on the TLS port gets no HTTP answer
    assertThrows(
        IOException.class,
        () ->
            plain.send(
                HttpRequest.newBuilder(
                        URI.create("http://localhost:" + tlsHttpsPort + "/q/health/ready"))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString()));
  }

  // --- helpers ---------------------------------------------------------------------------

  private static ManagedChannel channel(int port, boolean clientCert) {
    try {
      TlsChannelCredentials.Builder credentials =
          TlsChannelCredentials.newBuilder().trustManager(pki.caCert.toFile());
      if (clientCert) {
        credentials.keyManager(pki.clientCert.toFile(), pki.clientKey.toFile());
      }
      ManagedChannel c =
          Grpc.newChannelBuilderForAddress("localhost", port, credentials.build()).build();
      synchronized (channels) {
        channels.add(c);
      }
      return c;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Metadata key(String key) {
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
    return headers;
  }

  private static DatasetServiceGrpc.DatasetServiceBlockingStub datasets(
      GraftProcess service, String apiKey) {
    return DatasetServiceGrpc.newBlockingStub(channel(service.grpcPort(), service == mtls))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key(apiKey)))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** Uploads {@code examples} feature vectors of 16 floats, two classes, then commits. */
  private static CompletableFuture<Dataset> upload(
      GraftProcess service, String apiKey, String name, int examples) {
    CompletableFuture<Dataset> result = new CompletableFuture<>();
    StreamObserver<UploadDatasetRequest> requests =
        DatasetServiceGrpc.newStub(channel(service.grpcPort(), service == mtls))
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(key(apiKey)))
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .uploadDataset(
                new StreamObserver<>() {
                  @Override
                  public void onNext(Dataset value) {
                    result.complete(value);
                  }

                  @Override
                  public void onError(Throwable t) {
                    result.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(
        UploadDatasetRequest.newBuilder()
            .setHeader(
                DatasetHeader.newBuilder()
                    .setName(name)
                    .setKind(DatasetKind.DATASET_KIND_FEATURES)
                    .addClassNames("a")
                    .addClassNames("b"))
            .build());
    for (int i = 0; i < examples; i += 10) {
      DatasetExamples.Builder batch = DatasetExamples.newBuilder();
      for (int j = i; j < Math.min(examples, i + 10); j++) {
        DatasetExample.Builder e = DatasetExample.newBuilder().setLabelIndex(j % 2);
        for (int f = 0; f < 16; f++) {
          e.addFeatures(j * 0.01f + f);
        }
        batch.addExamples(e);
      }
      requests.onNext(UploadDatasetRequest.newBuilder().setExamples(batch).build());
    }
    requests.onNext(
        UploadDatasetRequest.newBuilder()
            .setCommit(UploadCommit.newBuilder().setExampleCount(examples))
            .build());
    requests.onCompleted();
    return result;
  }

  private static HttpResponse<String> https(int port, String method, String path, String apiKey)
      throws Exception {
    HttpClient client =
        HttpClient.newBuilder()
            .sslContext(pki.clientContext())
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create("https://localhost:" + port + path))
            .timeout(Duration.ofSeconds(20))
            .method(method, HttpRequest.BodyPublishers.noBody());
    if (apiKey != null) {
      request.header("Authorization", "Bearer " + apiKey);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Waits for a line of the service's log that contains a match of {@code regex}. */
  private static void awaitLog(GraftProcess service, String regex) throws Exception {
    Path log = ROOT.resolve(service == tls ? "tls" : "mtls").resolve("service.log");
    java.util.regex.Pattern text = java.util.regex.Pattern.compile(regex);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (Files.readAllLines(log, StandardCharsets.UTF_8).stream()
        .noneMatch(line -> text.matcher(line).find())) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no log line with '" + text + "' in " + log);
      }
      Thread.sleep(100);
    }
  }

  private static void assertDenied(String text, org.junit.jupiter.api.function.Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals(text, e.getStatus().getDescription());
  }

  private static List<Path> storedFiles(Path area) throws IOException {
    if (!Files.exists(area)) {
      return List.of();
    }
    try (Stream<Path> files = Files.walk(area)) {
      return files.filter(Files::isRegularFile).toList();
    }
  }

  private static String sha256(String key) {
    try {
      return HexFormat.of()
          .formatHex(
              java.security.MessageDigest.getInstance("SHA-256")
                  .digest(key.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
