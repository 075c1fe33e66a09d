package dev.graft.api;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.BaseModel;
import dev.graft.api.v1.ImportBaseModelHeader;
import dev.graft.api.v1.ImportBaseModelRequest;
import dev.graft.api.v1.ImportCommit;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.core.Artifacts;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** ImportBaseModel as a client streams it: header, chunks, commit {size, sha256}, half-close. */
public final class ImportTestSupport {

  private ImportTestSupport() {}

  /** Streams header + file in 1 KiB chunks + the commit; a failure arrives as an exception. */
  public static BaseModel importModel(
      ManagedChannel channel, ImportBaseModelHeader header, byte[] onnx) throws Exception {
    try (ImportCall call = new ImportCall(channel)) {
      if (header != null) {
        call.header(header);
      }
      for (int i = 0; i < onnx.length; i += 1024) {
        call.chunk(onnx, i, Math.min(1024, onnx.length - i));
      }
      return call.complete();
    }
  }

  /** An import stream in progress; closing it unfinished cancels the call. */
  public static final class ImportCall implements AutoCloseable {
    private final StreamObserver<ImportBaseModelRequest> requests;
    private final CompletableFuture<BaseModel> result = new CompletableFuture<>();
    private final MessageDigest sha256 = Artifacts.sha256Digest();
    private long size;

    public ImportCall(ManagedChannel channel) {
      requests =
          ModelServiceGrpc.newStub(channel)
              .withDeadlineAfter(60, TimeUnit.SECONDS)
              .importBaseModel(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(BaseModel value) {
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

    public void header(ImportBaseModelHeader header) {
      requests.onNext(ImportBaseModelRequest.newBuilder().setHeader(header).build());
    }

    public void chunk(byte[] bytes, int offset, int length) {
      sha256.update(bytes, offset, length);
      size += length;
      requests.onNext(
          ImportBaseModelRequest.newBuilder()
              .setChunk(ByteString.copyFrom(bytes, offset, length))
              .build());
    }

    /** Sends this commit, whatever was sent before. */
    public void commit(long sizeBytes, String sha256Hex) {
      requests.onNext(
          ImportBaseModelRequest.newBuilder()
              .setCommit(ImportCommit.newBuilder().setSizeBytes(sizeBytes).setSha256(sha256Hex))
              .build());
    }

    /** Commits the bytes sent so far, half-closes and waits for the answer. */
    public BaseModel complete() throws Exception {
      commit(size, HexFormat.of().formatHex(sha256.digest()));
      return halfClose();
    }

    /** Half-closes without a commit of its own and waits for the answer. */
    public BaseModel halfClose() throws Exception {
      requests.onCompleted();
      try {
        return result.get(60, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        throw (Exception) e.getCause();
      } catch (TimeoutException e) {
        throw new AssertionError("the import did not finish", e);
      }
    }

    /** Cancels the call (RST_STREAM), as a client that gives up does. */
    public void cancel() {
      requests.onError(Status.CANCELLED.withDescription("client gave up").asRuntimeException());
      result.completeExceptionally(Status.CANCELLED.asRuntimeException());
    }

    @Override
    public void close() {
      if (!result.isDone()) {
        cancel();
      }
    }
  }
}
