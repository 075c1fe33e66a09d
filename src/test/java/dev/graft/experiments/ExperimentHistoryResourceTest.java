package dev.graft.experiments;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

@QuarkusTest
class ExperimentHistoryResourceTest extends GraftTest {

  @Inject Experiments experiments;

  @Test
  void jsonHistoryListsAndGetsExperiments() {
    String tag = "rest-" + UUID.randomUUID();
    ExperimentInfo e = experiments.create("rest-" + UUID.randomUUID(), "via REST", List.of(tag));

    given()
        .queryParam("tag", tag)
        .get("/api/experiments")
        .then()
        .statusCode(200)
        .body("experiments.name", hasItem(e.name()))
        .body("nextPageToken", equalTo(""));
    given()
        .get("/api/experiments/" + e.id())
        .then()
        .statusCode(200)
        .body("name", equalTo(e.name()))
        .body("description", equalTo("via REST"))
        .body("tags[0]", equalTo(tag));
  }

  @Test
  void jsonErrorsCarryTheMessage() {
    given()
        .get("/api/experiments/424242")
        .then()
        .statusCode(404)
        .body("error", equalTo("experiment 424242 does not exist"));
    given()
        .queryParam("pageSize", 5000)
        .get("/api/experiments")
        .then()
        .statusCode(400)
        .body("error", containsString("page_size 5000 is out of range"));
    given()
        .get("/api/experiments/abc")
        .then()
        .statusCode(400)
        .contentType("application/json")
        .body("error", equalTo("experiment id must be a whole number, got 'abc'"));
    given()
        .queryParam("pageSize", "x")
        .get("/api/experiments")
        .then()
        .statusCode(400)
        .contentType("application/json")
        .body("error", equalTo("pageSize must be a whole number, got 'x'"));
  }

  @Test
  void healthAndMetricsEndpointsAnswer() {
    given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
    given()
        .get("/q/health/ready")
        .then()
        .statusCode(200)
        .body("checks.name", hasItem(containsString("Database")));
    given().get("/q/metrics").then().statusCode(200).body(containsString("jvm_memory_used_bytes"));
  }
}
