package dev.graft.serving.bench;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.DownloadModelVersionResponse;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The baseline of {@link TransportBench}: a bare grpc-java (Netty) server with Graft's service
 * definitions and no work beyond reading the request. Predict parses the request and refuses an
 * image for a feature model, as Graft does for the bench's model, and answers features with an
 * empty response; DownloadModelVersion streams one file in the requested chunk size.
 *
 * <pre>java -cp ... dev.graft.serving.bench.PlainGrpcServer PORT FILE</pre>
 */
public final class PlainGrpcServer {

  private PlainGrpcServer() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    Path file = Path.of(args[1]);
    Server server =
        NettyServerBuilder.forPort(port)
            .maxInboundMessageSize(64 << 20)
            .addService(
                new InferenceServiceGrpc.InferenceServiceImplBase() {
                  @Override
                  public void predict(PredictRequest r, StreamObserver<PredictResponse> out) {
                    if (!r.getInputs(0).hasImage()) {
                      out.onNext(PredictResponse.getDefaultInstance());
                      out.onCompleted();
                      return;
                    }
                    out.onError(
                        Status.INVALID_ARGUMENT
                            .withDescription(
                                "model '"
                                    + r.getModel().getName()
                                    + "' takes feature vectors, not images ("
                                    + r.getInputs(0).getImage().size()
                                    + " bytes)")
                            .asException());
                  }
                })
            .addService(
                new ModelServiceGrpc.ModelServiceImplBase() {
                  @Override
                  public void downloadModelVersion(
                      DownloadModelVersionRequest r,
                      StreamObserver<DownloadModelVersionResponse> out) {
                    try (InputStream in = Files.newInputStream(file)) {
                      long size = Files.size(file);
                      byte[] buffer = new byte[r.getChunkSize()];
                      int n;
                      while ((n = in.readNBytes(buffer, 0, buffer.length)) > 0) {
                        out.onNext(
                            DownloadModelVersionResponse.newBuilder()
                                .setChunk(ByteString.copyFrom(buffer, 0, n))
                                .setSizeBytes(size)
                                .build());
                      }
                      out.onNext(DownloadModelVersionResponse.newBuilder().setSha256("-").build());
                      out.onCompleted();
                    } catch (Exception e) {
                      out.onError(Status.INTERNAL.withCause(e).asException());
                    }
                  }
                })
            .build()
            .start();
    System.out.println("READY " + port);
    System.out.flush();
    server.awaitTermination();
  }
}
