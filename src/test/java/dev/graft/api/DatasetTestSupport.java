package dev.graft.api;

import dev.graft.api.v1.Dataset;
import dev.graft.api.v1.DatasetExample;
import dev.graft.api.v1.DatasetExamples;
import dev.graft.api.v1.DatasetHeader;
import dev.graft.api.v1.DatasetKind;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.UploadCommit;
import dev.graft.api.v1.UploadDatasetRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.eclipse.microprofile.config.ConfigProvider;

/** Helpers of the dataset end-to-end tests: uploads as a client streams them, the data dir. */
final class DatasetTestSupport {

  private DatasetTestSupport() {}

  static String unique(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  static Path dataDir() {
    return ConfigProvider.getConfig().getValue("graft.storage.dir", Path.class);
  }

  static Path importsDir() {
    Path dir = dataDir().resolve("imports");
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return dir;
  }

  static Path stagingDir() {
    return dataDir().resolve("datasets").resolve(".staging");
  }

  /** Every file under the datasets area, staging included. */
  static Set<String> storedFiles() {
    Path area = dataDir().resolve("datasets");
    if (!Files.exists(area)) {
      return Set.of();
    }
    try (Stream<Path> files = Files.walk(area)) {
      Set<String> out = new TreeSet<>();
      files.filter(Files::isRegularFile).forEach(p -> out.add(area.relativize(p).toString()));
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static UploadDatasetRequest header(String name, DatasetKind kind, String... classes) {
    return UploadDatasetRequest.newBuilder()
        .setHeader(
            DatasetHeader.newBuilder()
                .setName(name)
                .setKind(kind)
                .addAllClassNames(List.of(classes)))
        .build();
  }

  static UploadDatasetRequest header(DatasetHeader header) {
    return UploadDatasetRequest.newBuilder().setHeader(header).build();
  }

  static UploadDatasetRequest batch(List<DatasetExample> examples) {
    return UploadDatasetRequest.newBuilder()
        .setExamples(DatasetExamples.newBuilder().addAllExamples(examples))
        .build();
  }

  static UploadDatasetRequest commit(long exampleCount) {
    return UploadDatasetRequest.newBuilder()
        .setCommit(UploadCommit.newBuilder().setExampleCount(exampleCount))
        .build();
  }

  /**
   * A client stream in progress. {@link #complete()} commits the examples sent so far and
   * half-closes, as every well-behaved client must; closing it unfinished cancels the call.
   */
  static final class UploadCall implements AutoCloseable {
    final StreamObserver<UploadDatasetRequest> requests;
    final CompletableFuture<Dataset> result = new CompletableFuture<>();
    private long examplesSent;
    private boolean committed;

    UploadCall(ManagedChannel channel) {
      requests =
          DatasetServiceGrpc.newStub(channel)
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
    }

    void send(UploadDatasetRequest message) {
      examplesSent += message.getExamples().getExamplesCount();
      committed |= message.hasCommit();
      requests.onNext(message);
    }

    /** Sends the commit (unless one was sent), half-closes and waits for the answer. */
    Dataset complete() {
      if (!committed) {
        send(commit(examplesSent));
      }
      return halfClose();
    }

    /** Half-closes without adding a commit and waits for the answer. */
    Dataset halfClose() {
      requests.onCompleted();
      return await();
    }

    /** Cancels the call (RST_STREAM), as a client that gives up does. */
    void cancel() {
      requests.onError(Status.CANCELLED.withDescription("client gave up").asRuntimeException());
      result.completeExceptionally(Status.CANCELLED.asRuntimeException());
    }

    Dataset await() {
      try {
        return result.get(60, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        throw Status.fromThrowable(e.getCause()).asRuntimeException();
      } catch (InterruptedException | TimeoutException e) {
        throw new AssertionError("upload did not finish", e);
      }
    }

    @Override
    public void close() {
      if (!result.isDone()) {
        requests.onError(Status.CANCELLED.asRuntimeException());
      }
    }
  }

  /**
   * Streams these messages, then the commit (unless they hold one) and completes; a failure arrives
   * as a StatusRuntimeException.
   */
  static Dataset upload(ManagedChannel channel, List<UploadDatasetRequest> messages)
      throws StatusRuntimeException {
    try (UploadCall stream = new UploadCall(channel)) {
      messages.forEach(stream::send);
      return stream.complete();
    }
  }
}
