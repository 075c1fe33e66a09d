package dev.graft.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DeleteDatasetRequest;
import dev.graft.api.v1.DeleteDatasetResponse;
import dev.graft.api.v1.ListDatasetsRequest;
import dev.graft.api.v1.ListDatasetsResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The access interceptor on a real grpc-java server and client over loopback: no key, an unknown
 * key, a role too low and a role high enough, with the texts a client reads.
 */
class AccessInterceptorTest {

  private static final String READER_KEY = "reader-key-123";
  private static final String ADMIN_KEY = "admin-key-456";

  private Server server;
  private ManagedChannel channel;

  /**
   * Answers the two calls it is let through to. Built by hand from the method descriptors (not an
   * ImplBase subclass, which Quarkus would register in place of the real service in the tests).
   */
  private static ServerServiceDefinition datasets() {
    return ServerServiceDefinition.builder(DatasetServiceGrpc.SERVICE_NAME)
        .addMethod(
            DatasetServiceGrpc.getListDatasetsMethod(),
            ServerCalls.asyncUnaryCall(
                (ListDatasetsRequest r, StreamObserver<ListDatasetsResponse> out) -> {
                  out.onNext(ListDatasetsResponse.getDefaultInstance());
                  out.onCompleted();
                }))
        .addMethod(
            DatasetServiceGrpc.getDeleteDatasetMethod(),
            ServerCalls.asyncUnaryCall(
                (DeleteDatasetRequest r, StreamObserver<DeleteDatasetResponse> out) -> {
                  out.onNext(DeleteDatasetResponse.getDefaultInstance());
                  out.onCompleted();
                }))
        .build();
  }

  private DatasetServiceGrpc.DatasetServiceBlockingStub start(boolean enabled) throws Exception {
    ApiKeys keys =
        new ApiKeys(
            Map.of(
                HexFormat.of().formatHex(ApiKeys.sha256(READER_KEY)), "reader",
                HexFormat.of().formatHex(ApiKeys.sha256(ADMIN_KEY)), "admin"));
    server =
        NettyServerBuilder.forPort(0)
            .addService(
                ServerInterceptors.intercept(datasets(), new AccessInterceptor(enabled, keys)))
            .build()
            .start();
    channel =
        ManagedChannelBuilder.forAddress("localhost", server.getPort()).usePlaintext().build();
    return DatasetServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static DatasetServiceGrpc.DatasetServiceBlockingStub withKey(
      DatasetServiceGrpc.DatasetServiceBlockingStub stub, String header, String value) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of(header, Metadata.ASCII_STRING_MARSHALLER), value);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }

  private static StatusRuntimeException refused(Runnable call) {
    return assertThrows(StatusRuntimeException.class, call::run);
  }

  @Test
  void keysAndRolesDecideWhoMayCallWhat() throws Exception {
    var stub = start(true);
    DeleteDatasetRequest delete = DeleteDatasetRequest.newBuilder().setId(1).build();
    ListDatasetsRequest list = ListDatasetsRequest.getDefaultInstance();

    StatusRuntimeException none = refused(() -> stub.listDatasets(list));
    assertEquals(Status.Code.UNAUTHENTICATED, none.getStatus().getCode());
    assertEquals(AccessInterceptor.SEND_KEY, none.getStatus().getDescription());
    StatusRuntimeException unknown =
        refused(() -> withKey(stub, "authorization", "Bearer not-a-key").listDatasets(list));
    assertEquals(Status.Code.UNAUTHENTICATED, unknown.getStatus().getCode());

    var reader = withKey(stub, "authorization", "Bearer " + READER_KEY);
    reader.listDatasets(list);
    StatusRuntimeException low = refused(() -> reader.deleteDataset(delete));
    assertEquals(Status.Code.PERMISSION_DENIED, low.getStatus().getCode());
    assertEquals(
        "role reader may not call graft.v1.DatasetService/DeleteDataset; it needs admin",
        low.getStatus().getDescription());

    withKey(stub, "x-api-key", ADMIN_KEY).deleteDataset(delete);
    withKey(stub, "authorization", "Bearer " + ADMIN_KEY).listDatasets(list);
  }

  @Test
  void offByDefaultEverythingPasses() throws Exception {
    var stub = start(false);
    stub.listDatasets(ListDatasetsRequest.getDefaultInstance());
    stub.deleteDataset(DeleteDatasetRequest.newBuilder().setId(1).build());
  }
}
