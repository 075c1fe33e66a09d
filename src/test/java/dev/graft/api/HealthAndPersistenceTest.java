package dev.graft.api;

import static dev.graft.support.GraftTest.assertStatus;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.Experiment;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.GetExperimentRequest;
import dev.graft.core.EmbeddedDatabase;
import dev.graft.support.GraftTest;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.Iterator;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The database going away and coming back: health follows it, nothing is lost. The embedded
 * PostgreSQL is restarted on the same data directory, as after a service restart.
 */
@QuarkusTest
class HealthAndPersistenceTest extends GraftTest {

  @Inject EmbeddedDatabase database;

  private ServingStatus check(String service) {
    return HealthGrpc.newBlockingStub(channel)
        .withDeadlineAfter(20, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().setService(service).build())
        .getStatus();
  }

  @Test
  void healthFollowsTheDatabaseAndDataSurvivesItsRestart() {
    var experiments = ExperimentServiceGrpc.newBlockingStub(channel);
    String name = "survivor-" + UUID.randomUUID();
    Experiment created =
        experiments.createExperiment(CreateExperimentRequest.newBuilder().setName(name).build());
    assertEquals(ServingStatus.SERVING, check(""));
    assertEquals(ServingStatus.SERVING, check("graft.v1.ExperimentService"));
    assertEquals(ServingStatus.SERVING, check("grpc.health.v1.Health"));
    given().get("/q/health/ready").then().statusCode(200);

    try {
      database.stop();

      assertEquals(ServingStatus.NOT_SERVING, check(""));
      assertEquals(ServingStatus.NOT_SERVING, check("graft.v1.ExperimentService"));
      // The health service itself still answers.
      assertEquals(ServingStatus.SERVING, check("grpc.health.v1.Health"));
      given().get("/q/health/ready").then().statusCode(503).body("status", equalTo("DOWN"));
      given().get("/q/health/live").then().statusCode(200);
      assertStatus(
          Code.UNAVAILABLE,
          "not reachable",
          () ->
              experiments.getExperiment(
                  GetExperimentRequest.newBuilder().setId(created.getId()).build()));
    } finally {
      database.start();
    }

    assertEquals(ServingStatus.SERVING, check(""));
    given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
    Experiment after =
        experiments.getExperiment(GetExperimentRequest.newBuilder().setId(created.getId()).build());
    assertEquals(created, after);
  }

  @Test
  void unknownServiceIsNotFound() {
    assertStatus(Code.NOT_FOUND, "unknown service 'nope'", () -> check("nope"));
  }

  @Test
  void watchStreamsTheCurrentStatus() {
    Iterator<HealthCheckResponse> watch =
        HealthGrpc.newBlockingStub(channel)
            .withDeadlineAfter(20, TimeUnit.SECONDS)
            .watch(HealthCheckRequest.newBuilder().build());
    assertEquals(ServingStatus.SERVING, watch.next().getStatus());
  }
}
