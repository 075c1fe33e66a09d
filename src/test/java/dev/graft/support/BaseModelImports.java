package dev.graft.support;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.BaseModel;
import dev.graft.api.v1.ImportBaseModelHeader;
import dev.graft.api.v1.ImportBaseModelRequest;
import dev.graft.api.v1.ImportCommit;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.core.Artifacts;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Imports a base model through ModelService.ImportBaseModel as a client would: the header, then the
 * file in 64 KiB chunks, then the commit {size_bytes, sha256} that makes it count. The one place
 * new tests import through, so that a change of the import protocol changes this method only.
 */
public final class BaseModelImports {

  private BaseModelImports() {}

  /** Streams {@code header} and {@code onnx}; throws the call's StatusRuntimeException. */
  public static BaseModel importModel(Channel channel, ImportBaseModelHeader header, byte[] onnx)
      throws Exception {
    CompletableFuture<BaseModel> result = new CompletableFuture<>();
    StreamObserver<ImportBaseModelRequest> requests =
        ModelServiceGrpc.newStub(channel)
            .withDeadlineAfter(2, TimeUnit.MINUTES)
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
    requests.onNext(ImportBaseModelRequest.newBuilder().setHeader(header).build());
    int chunk = 64 * 1024;
    for (int i = 0; i < onnx.length; i += chunk) {
      requests.onNext(
          ImportBaseModelRequest.newBuilder()
              .setChunk(ByteString.copyFrom(onnx, i, Math.min(chunk, onnx.length - i)))
              .build());
    }
    requests.onNext(
        ImportBaseModelRequest.newBuilder()
            .setCommit(
                ImportCommit.newBuilder()
                    .setSizeBytes(onnx.length)
                    .setSha256(HexFormat.of().formatHex(Artifacts.sha256Digest().digest(onnx))))
            .build());
    requests.onCompleted();
    try {
      return result.get(2, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }
}
