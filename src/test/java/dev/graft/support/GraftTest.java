package dev.graft.support;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.function.Executable;

/**
 * Base of the end-to-end tests: a real gRPC channel to the running service (as any client would use
 * it) and assertions on gRPC statuses.
 */
@QuarkusTestResource(GraftTestResource.class)
@Tag("quarkus")
public abstract class GraftTest {

  protected ManagedChannel channel;

  @BeforeEach
  void openChannel() {
    int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
    channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
  }

  @AfterEach
  void closeChannel() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** Asserts that the call fails with that code and a description containing {@code text}. */
  public static StatusRuntimeException assertStatus(
      Status.Code code, String text, Executable call) {
    StatusRuntimeException e =
        org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class, call);
    org.junit.jupiter.api.Assertions.assertEquals(code, e.getStatus().getCode(), e.toString());
    String description = e.getStatus().getDescription();
    org.junit.jupiter.api.Assertions.assertTrue(
        description != null && description.contains(text),
        "expected '" + text + "' in '" + description + "'");
    return e;
  }
}
