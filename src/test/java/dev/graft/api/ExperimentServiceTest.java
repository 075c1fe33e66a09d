package dev.graft.api;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.Experiment;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.ExperimentServiceGrpc.ExperimentServiceBlockingStub;
import dev.graft.api.v1.GetExperimentRequest;
import dev.graft.api.v1.ListExperimentsRequest;
import dev.graft.api.v1.ListExperimentsResponse;
import dev.graft.api.v1.UpdateExperimentRequest;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
class ExperimentServiceTest extends GraftTest {

  private ExperimentServiceBlockingStub experiments;

  @BeforeEach
  void stub() {
    experiments = ExperimentServiceGrpc.newBlockingStub(channel);
  }

  private static String unique(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private Experiment create(String name, String description, String... tags) {
    return experiments.createExperiment(
        CreateExperimentRequest.newBuilder()
            .setName(name)
            .setDescription(description)
            .addAllTags(List.of(tags))
            .build());
  }

  @Test
  void createdExperimentIsReturnedByGet() {
    String name = unique("mnist-transfer");
    Experiment created = create(name, "Fashion-MNIST to MNIST", "vision", "mnist", "vision");

    Experiment fetched =
        experiments.getExperiment(GetExperimentRequest.newBuilder().setId(created.getId()).build());

    assertEquals(name, fetched.getName());
    assertEquals("Fashion-MNIST to MNIST", fetched.getDescription());
    assertEquals(List.of("mnist", "vision"), fetched.getTagsList());
    assertEquals(0, fetched.getRunCount());
    assertTrue(fetched.getCreateTime().getSeconds() > 0);
    assertEquals(created, fetched);
  }

  @Test
  void duplicateNameIsAlreadyExists() {
    String name = unique("dup");
    create(name, "");
    assertStatus(Code.ALREADY_EXISTS, "'" + name + "' already exists", () -> create(name, "x"));
  }

  @Test
  void unknownIdIsNotFound() {
    assertStatus(
        Code.NOT_FOUND,
        "experiment 987654321 does not exist",
        () ->
            experiments.getExperiment(GetExperimentRequest.newBuilder().setId(987654321).build()));
  }

  @Test
  void invalidArgumentsSayWhatToFix() {
    assertStatus(Code.INVALID_ARGUMENT, "letters, digits", () -> create("has space", ""));
    assertStatus(Code.INVALID_ARGUMENT, "letters, digits", () -> create("", ""));
    assertStatus(Code.INVALID_ARGUMENT, "tag ' '", () -> create(unique("t"), "", " "));
    assertStatus(
        Code.INVALID_ARGUMENT, "at most 4096", () -> create(unique("long"), "x".repeat(4097)));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "page_size 1001 is out of range",
        () ->
            experiments.listExperiments(
                ListExperimentsRequest.newBuilder().setPageSize(1001).build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "page_token 'garbage'",
        () ->
            experiments.listExperiments(
                ListExperimentsRequest.newBuilder().setPageToken("garbage").build()));
  }

  @Test
  void listPagesThroughEveryExperimentNewestFirst() {
    String tag = unique("paging");
    List<Long> createdIds = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      createdIds.add(create(unique("page" + i), "", tag).getId());
    }
    create(unique("other"), "", "not-" + tag);

    List<Long> seen = new ArrayList<>();
    String token = "";
    int pages = 0;
    do {
      ListExperimentsResponse page =
          experiments.listExperiments(
              ListExperimentsRequest.newBuilder()
                  .setPageSize(2)
                  .setPageToken(token)
                  .setTag(tag)
                  .build());
      page.getExperimentsList().forEach(e -> seen.add(e.getId()));
      assertTrue(page.getExperimentsCount() <= 2);
      token = page.getNextPageToken();
      pages++;
    } while (!token.isEmpty());

    assertEquals(3, pages);
    java.util.Collections.reverse(createdIds);
    assertEquals(createdIds, seen);
  }

  @Test
  void updateChangesOnlyTheNamedFields() {
    Experiment created = create(unique("upd"), "before", "a");

    Experiment described =
        experiments.updateExperiment(
            UpdateExperimentRequest.newBuilder()
                .setId(created.getId())
                .setDescription("after")
                .setUpdateDescription(true)
                .build());
    assertEquals("after", described.getDescription());
    assertEquals(List.of("a"), described.getTagsList());

    Experiment retagged =
        experiments.updateExperiment(
            UpdateExperimentRequest.newBuilder()
                .setId(created.getId())
                .addTags("z")
                .addTags("b")
                .setUpdateTags(true)
                .build());
    assertEquals("after", retagged.getDescription());
    assertEquals(List.of("b", "z"), retagged.getTagsList());
    assertTrue(
        retagged.getUpdateTime().getSeconds() * 1_000_000_000L + retagged.getUpdateTime().getNanos()
            > created.getUpdateTime().getSeconds() * 1_000_000_000L
                + created.getUpdateTime().getNanos());

    assertStatus(
        Code.NOT_FOUND,
        "does not exist",
        () ->
            experiments.updateExperiment(
                UpdateExperimentRequest.newBuilder().setId(-1).setUpdateTags(true).build()));
  }
}
