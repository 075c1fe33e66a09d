package dev.graft.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The request limits on a real grpc-java server and client over loopback, with a service that holds
 * its answers until the test lets them go.
 */
class RequestLimitsInterceptorTest {

  private final CountDownLatch release = new CountDownLatch(1);
  private final CountDownLatch largeArrived = new CountDownLatch(1);
  private Server server;
  private ManagedChannel channel;
  private RequestLimitsInterceptor limits;

  /** Answers at once for small requests; large ones wait for {@code release}. */
  private final class HoldingService extends InferenceServiceGrpc.InferenceServiceImplBase {
    @Override
    public void predict(PredictRequest request, StreamObserver<PredictResponse> out) {
      if (request.getInputs(0).getImage().size() > 1000) {
        largeArrived.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      out.onNext(PredictResponse.newBuilder().setModelName(request.getModel().getName()).build());
      out.onCompleted();
    }
  }

  private InferenceServiceGrpc.InferenceServiceBlockingStub start(
      Duration timeout, int large, long maxLarge) throws Exception {
    limits = new RequestLimitsInterceptor(timeout, large, maxLarge);
    server =
        NettyServerBuilder.forPort(0)
            .addService(ServerInterceptors.intercept(new HoldingService(), limits))
            .build()
            .start();
    channel =
        ManagedChannelBuilder.forAddress("localhost", server.getPort()).usePlaintext().build();
    return InferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws InterruptedException {
    release.countDown();
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    limits.close();
  }

  private static PredictRequest request(String name, int imageBytes) {
    return PredictRequest.newBuilder()
        .setModel(ModelRef.newBuilder().setName(name))
        .addInputs(Input.newBuilder().setImage(ByteString.copyFrom(new byte[imageBytes])))
        .build();
  }

  @Test
  void aCallThatOutlivesTheServerDeadlineIsAnsweredDeadlineExceeded() throws Exception {
    var stub = start(Duration.ofMillis(300), 1 << 20, 1L << 30);
    long t0 = System.nanoTime();
    StatusRuntimeException e =
        assertThrows(StatusRuntimeException.class, () -> stub.predict(request("slow", 5000)));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    assertEquals(
        "the server did not finish this call within 300 ms (graft.grpc.request-timeout)",
        e.getStatus().getDescription());
    assertTrue(ms < 10_000, "answered after " + ms + " ms, long before the client's deadline");
    // The held answer, once released, goes nowhere; the server keeps answering.
    release.countDown();
    assertEquals("fast", stub.predict(request("fast", 10)).getModelName());
  }

  @Test
  void largeRequestsBeyondTheByteCapAreRefusedWhileSmallOnesPass() throws Exception {
    var stub = start(Duration.ofSeconds(30), 1_000_000, 3_000_000);
    CompletableFuture<PredictResponse> first =
        CompletableFuture.supplyAsync(() -> stub.predict(request("first", 2_000_000)));
    assertTrue(largeArrived.await(20, TimeUnit.SECONDS));
    StatusRuntimeException refused =
        assertThrows(
            StatusRuntimeException.class, () -> stub.predict(request("second", 2_000_000)));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
    assertEquals(
        "large requests of "
            + request("first", 2_000_000).getSerializedSize()
            + " bytes are being worked on; this one's "
            + request("second", 2_000_000).getSerializedSize()
            + " bytes would exceed graft.grpc.max-large-message-bytes (3000000): retry shortly",
        refused.getStatus().getDescription());
    assertEquals("small", stub.predict(request("small", 100)).getModelName());
    release.countDown();
    assertEquals("first", first.get(20, TimeUnit.SECONDS).getModelName());
    // Released with the answer: a large request fits again.
    assertEquals(0, limits.largeBytesInUse());
    assertEquals("third", stub.predict(request("third", 2_000_000)).getModelName());
  }
}
