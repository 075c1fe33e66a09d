package dev.graft.api;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.CompareRunsRequest;
import dev.graft.api.v1.CompareRunsResponse;
import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.EarlyStopping;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.ExperimentServiceGrpc.ExperimentServiceBlockingStub;
import dev.graft.api.v1.FreezeSpec;
import dev.graft.api.v1.GetMetricHistoryRequest;
import dev.graft.api.v1.GetMetricHistoryResponse;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ListRunsRequest;
import dev.graft.api.v1.MetricComparison;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.SearchRunsRequest;
import dev.graft.api.v1.SearchRunsResponse;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.experiments.RunStatus;
import dev.graft.support.GraftTest;
import dev.graft.training.RunSpec;
import dev.graft.training.RunStore;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * SearchRuns, GetMetricHistory and CompareRuns through gRPC (and GET /api/runs) over a store seeded
 * with runs of known configuration and metrics, written through the service's own RunStore.
 */
@QuarkusTest
class RunSearchTest extends GraftTest {

  @Inject RunStore store;
  @Inject DataSource dataSource;

  private ExperimentServiceBlockingStub experiments;
  private long vision;
  private long text;
  private String datasetA;
  private String datasetB;

  /** Run ids by short name: tl1, tl2, ft1, ft2, gr1, fs1. */
  private final Map<String, Long> ids = new LinkedHashMap<>();

  @BeforeEach
  void seed() throws SQLException {
    experiments = ExperimentServiceGrpc.newBlockingStub(channel);
    String tag = UUID.randomUUID().toString().substring(0, 8);
    vision = experiment("vision-" + tag, "vision", "mnist");
    text = experiment("text-" + tag, "nlp");
    datasetA = "mnist-" + tag;
    datasetB = "letters-" + tag;
    long a = dataset(datasetA);
    long b = dataset(datasetB);
    String model = "cnn-" + tag;
    long base = baseModel(model);
    // name, experiment, strategy, dataset, lr, epochs, last blocks, val_accuracy history, test acc
    run(
        "tl1",
        vision,
        Strategy.TRANSFER_LEARNING,
        model,
        base,
        datasetA,
        a,
        0.01,
        10,
        0,
        new double[] {0.5, 0.8, 0.7},
        0.71,
        RunStatus.SUCCEEDED);
    run(
        "tl2",
        vision,
        Strategy.TRANSFER_LEARNING,
        model,
        base,
        datasetA,
        a,
        0.001,
        20,
        0,
        new double[] {0.6, 0.65},
        0.66,
        RunStatus.SUCCEEDED);
    run(
        "ft1",
        vision,
        Strategy.FINE_TUNING,
        model,
        base,
        datasetA,
        a,
        0.0001,
        10,
        2,
        new double[] {0.9, 0.95, 0.93},
        0.94,
        RunStatus.SUCCEEDED);
    run(
        "ft2",
        vision,
        Strategy.FINE_TUNING,
        model,
        base,
        datasetB,
        b,
        0.0005,
        5,
        1,
        new double[] {0.3},
        -1,
        RunStatus.FAILED);
    run(
        "gr1",
        text,
        Strategy.GRADUAL,
        model,
        base,
        datasetB,
        b,
        0.002,
        8,
        0,
        new double[] {0.85, 0.92},
        0.9,
        RunStatus.SUCCEEDED);
    // No metrics at all: sorts last, matches no metric comparison.
    run(
        "fs1",
        text,
        Strategy.FROM_SCRATCH,
        model,
        base,
        datasetB,
        b,
        0.01,
        3,
        0,
        new double[] {},
        -1,
        RunStatus.QUEUED);
  }

  @Test
  void everyOperatorSelectsExactlyTheExpectedRuns() {
    expect("strategy = 'TRANSFER_LEARNING'", "tl1", "tl2");
    expect("strategy = 'transfer_learning'", "tl1", "tl2");
    expect("strategy != 'TRANSFER_LEARNING'", "ft1", "ft2", "gr1", "fs1");
    expect("strategy IN ('TRANSFER_LEARNING', 'GRADUAL')", "tl1", "tl2", "gr1");
    expect("strategy NOT IN ('TRANSFER_LEARNING', 'GRADUAL')", "ft1", "ft2", "fs1");
    expect("status = 'FAILED'", "ft2");
    expect("params.learning_rate < 1e-3", "ft1", "ft2");
    expect("params.learning_rate <= 0.001", "tl2", "ft1", "ft2");
    expect("params.learning_rate >= 0.01", "tl1", "fs1");
    expect("params.epochs > 8", "tl1", "tl2", "ft1");
    expect("params.epochs = 10", "tl1", "ft1");
    expect("params.freeze.train_last_blocks = 2", "ft1");
    expect("params.strategy = 'GRADUAL'", "gr1");
    expect("params.early_stopping.enabled = true", "tl1", "tl2", "ft1", "ft2", "gr1", "fs1");
    expect("params.no_such_setting = 1");
    expect("params.no_such_setting IS NULL", "tl1", "tl2", "ft1", "ft2", "gr1", "fs1");
    expect("metrics.val_accuracy > 0.75", "ft1", "gr1");
    expect("metrics.val_accuracy.last > 0.75", "ft1", "gr1");
    expect("metrics.val_accuracy.max >= 0.8", "tl1", "ft1", "gr1");
    expect("metrics.val_accuracy.min < 0.55", "tl1", "ft2");
    expect("metrics.no_such_metric > 0");
    expect("NOT metrics.no_such_metric > 0");
    expect("metrics.val_accuracy IS NULL", "fs1");
    expect("metrics.val_accuracy IS NOT NULL", "tl1", "tl2", "ft1", "ft2", "gr1");
    expect("test.test_accuracy > 0.8", "ft1", "gr1");
    expect("test.test_accuracy IS NULL", "ft2", "fs1");
    expect("dataset LIKE 'mnist-%'", "tl1", "tl2", "ft1");
    expect("dataset NOT LIKE 'mnist-%'", "ft2", "gr1", "fs1");
    expect("dataset ILIKE 'MNIST-%'", "tl1", "tl2", "ft1");
    expect("experiment LIKE 'text-%'", "gr1", "fs1");
    expect("experiment_id = " + text, "gr1", "fs1");
    expect("tags = 'mnist'", "tl1", "tl2", "ft1", "ft2");
    expect("tags != 'mnist'", "gr1", "fs1");
    expect("tags IN ('nlp', 'nothing')", "gr1", "fs1");
    expect("tags LIKE 'mn%'", "tl1", "tl2", "ft1", "ft2");
    expect("name = 'ft1'", "ft1");
    expect("device = 'cpu'", "tl1", "tl2", "ft1", "ft2", "gr1");
    expect("device IS NULL", "fs1");
    expect(
        "created > '2000-01-01' AND created < '2999-01-01T00:00:00Z'",
        "tl1",
        "tl2",
        "ft1",
        "ft2",
        "gr1",
        "fs1");
    expect("created < '2000-01-01'");
  }

  @Test
  void booleanLogicFollowsPrecedenceAndParentheses() {
    // AND binds tighter than OR.
    expect("strategy = 'GRADUAL' OR strategy = 'FINE_TUNING' AND params.epochs = 5", "ft2", "gr1");
    expect("(strategy = 'GRADUAL' OR strategy = 'FINE_TUNING') AND params.epochs = 5", "ft2");
    expect("NOT (strategy = 'GRADUAL' OR status = 'SUCCEEDED')", "ft2", "fs1");
    expect(
        "strategy IN ('TRANSFER_LEARNING','GRADUAL') AND (metrics.val_accuracy.max > 0.9"
            + " OR params.learning_rate < 1e-3) AND dataset LIKE 'letters%'",
        "gr1");
    expect(
        "not status = 'QUEUED' and Not strategy = 'FINE_TUNING' or name = 'fs1'",
        "tl1",
        "tl2",
        "gr1",
        "fs1");
  }

  @Test
  void orderingPutsRunsWithoutTheKeyLastAndBreaksTiesById() {
    assertEquals(
        names("ft1", "gr1", "tl1", "tl2", "ft2", "fs1"),
        search("", List.of("metrics.val_accuracy.max DESC")));
    assertEquals(
        names("ft2", "tl1", "tl2", "gr1", "ft1", "fs1"),
        search("", List.of("metrics.val_accuracy.min")));
    // Equal epochs (10: tl1 and ft1) fall back to the next key, then the id.
    assertEquals(
        names("tl2", "tl1", "ft1", "gr1", "ft2", "fs1"),
        search("", List.of("params.epochs DESC", "metrics.val_accuracy.last ASC")));
    // Epochs 3, 5, 8, then 10 twice (tl1 and ft1, by test accuracy, larger first), then 20.
    assertEquals(
        names("fs1", "ft2", "gr1", "ft1", "tl1", "tl2"),
        search("", List.of("params.epochs ASC", "test.test_accuracy DESC")));
    assertEquals(
        names("ft1", "ft2", "fs1", "gr1", "tl1", "tl2"), search("", List.of("strategy", "name")));
  }

  @Test
  void pagesStayCorrectWhileRunsAreAdded() throws SQLException {
    List<String> order = List.of("metrics.val_accuracy.max DESC");
    List<Long> seen = new ArrayList<>();
    String token = "";
    int pages = 0;
    do {
      SearchRunsResponse page = experiments.searchRuns(request("", order, 2, token));
      page.getRunsList().forEach(r -> seen.add(r.getId()));
      token = page.getNextPageToken();
      if (pages++ == 0) {
        // A run that sorts first and one that sorts last arrive after the first page.
        run(
            "late-best",
            vision,
            Strategy.TRANSFER_LEARNING,
            "",
            null,
            datasetA,
            datasetId(datasetA),
            0.01,
            1,
            0,
            new double[] {0.99},
            -1,
            RunStatus.SUCCEEDED);
        run(
            "late-none",
            vision,
            Strategy.TRANSFER_LEARNING,
            "",
            null,
            datasetA,
            datasetId(datasetA),
            0.01,
            1,
            0,
            new double[] {},
            -1,
            RunStatus.QUEUED);
      }
    } while (!token.isEmpty());
    // late-best sorts before the first page's end: not seen. late-none has no value, like fs1,
    // and the id breaks the tie in the first key's direction (DESC): before fs1.
    List<Long> expected = names("ft1", "gr1", "tl1", "tl2", "ft2", "late-none", "fs1");
    assertEquals(expected, seen);
    assertTrue(pages >= 4);
  }

  @Test
  void literalsAreNeverSql() throws SQLException {
    String evil = "x' OR '1'='1";
    expect("name = 'x'' OR ''1''=''1'");
    run(
        evil,
        vision,
        Strategy.TRANSFER_LEARNING,
        "",
        null,
        datasetA,
        datasetId(datasetA),
        0.01,
        1,
        0,
        new double[] {},
        -1,
        RunStatus.QUEUED);
    expect("name = 'x'' OR ''1''=''1'", evil);
    expect("name = \"x' OR '1'='1\"", evil);
    expect("params.`a'); DROP TABLE run; --` = 1");
    assertEquals(7, search("", List.of()).size(), "the run table is still there");
  }

  @Test
  void malformedFiltersNameThePositionAndWhatWasExpected() {
    bad(
        "strategy = ",
        "filter: at position 12: expected a value after =, found the end of the text");
    bad("strategy == 'GRADUAL' AND", "at position 26: expected a field name");
    bad("(strategy = 'GRADUAL'", "at position 22: expected ')' to close the '(' at position 1");
    bad(
        "strategy = GRADUAL",
        "at position 12: expected a value after =: quote text, as in 'GRADUAL'");
    bad("strategy = 'TRANSFER'", "'TRANSFER' is not a strategy: use one of FINE_TUNING,");
    bad("params.epochs >", "at position 16");
    bad("metrics.val_accuracy > 'high'", "at position 24: metrics.val_accuracy.last is a number");
    bad("created > 'yesterday'", "'yesterday' is not a date or time");
    bad("colour = 'red'", "at position 1: unknown field 'colour': use one of id, name, strategy");
    bad("trainable_parameters LIKE '1%'", "trainable_parameters is a number: LIKE needs text");
    bad("name = 'unterminated", "at position 8: unterminated string");
    bad("params.optimizer IN ('ADAM', 3)", "every value of an IN list must be of the same kind");
    bad("status = 'FAILED' status = 'QUEUED'", "at position 19: expected AND, OR or the end");
    bad("tags > 'a'", "tags can be compared with =, !=, IN and LIKE only");
    assertStatus(
        Code.INVALID_ARGUMENT,
        "order_by 'metrics.val_accuracy sideways': at position 22",
        () -> experiments.searchRuns(request("", List.of("metrics.val_accuracy sideways"), 0, "")));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "page_token is not a token returned by a previous page",
        () -> experiments.searchRuns(request("", List.of(), 0, "garbage")));
    String token = experiments.searchRuns(request("", List.of(), 1, "")).getNextPageToken();
    assertStatus(
        Code.INVALID_ARGUMENT,
        "same filter, order_by and experiments",
        () -> experiments.searchRuns(request("status = 'FAILED'", List.of(), 1, token)));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "page_size 5000 is out of range",
        () -> experiments.searchRuns(request("", List.of(), 5000, "")));
  }

  @Test
  void listedRunsCarryLastValuesNotTheirHistory() {
    Run tl1 = experiments.searchRuns(request("name = 'tl1'", List.of(), 0, "")).getRuns(0);
    assertEquals(1, tl1.getMetricsCount());
    assertEquals("val_accuracy", tl1.getMetrics(0).getKey());
    assertEquals(0.7, tl1.getMetrics(0).getValue(), 1e-12);
    assertEquals(2, tl1.getMetrics(0).getEpoch());
    Run listed =
        TrainingServiceGrpc.newBlockingStub(channel)
            .listRuns(
                ListRunsRequest.newBuilder().setExperimentId(vision).setPageSize(1000).build())
            .getRunsList()
            .stream()
            .filter(r -> r.getId() == ids.get("tl1"))
            .findFirst()
            .orElseThrow();
    assertEquals(tl1.getMetricsList(), listed.getMetricsList());
  }

  @Test
  void metricHistoryReturnsEveryPoint() {
    GetMetricHistoryResponse h =
        experiments.getMetricHistory(
            GetMetricHistoryRequest.newBuilder().setRunId(ids.get("tl1")).build());
    assertEquals(1, h.getMetricsCount());
    assertEquals(
        List.of(0.5, 0.8, 0.7),
        h.getMetrics(0).getPointsList().stream().map(p -> p.getValue()).toList());
    assertEquals(
        List.of(0L, 1L, 2L),
        h.getMetrics(0).getPointsList().stream().map(p -> p.getStep()).toList());
    GetMetricHistoryResponse none =
        experiments.getMetricHistory(
            GetMetricHistoryRequest.newBuilder()
                .setRunId(ids.get("tl1"))
                .addKeys("val_loss")
                .build());
    assertEquals("val_loss", none.getMetrics(0).getKey());
    assertEquals(0, none.getMetrics(0).getPointsCount());
    assertStatus(
        Code.NOT_FOUND,
        "run 987654321",
        () ->
            experiments.getMetricHistory(
                GetMetricHistoryRequest.newBuilder().setRunId(987654321).build()));
  }

  @Test
  void compareRunsShowsDifferencesMetricsAndSplits() throws SQLException {
    CompareRunsResponse c =
        experiments.compareRuns(
            CompareRunsRequest.newBuilder()
                .addRunIds(ids.get("tl1"))
                .addRunIds(ids.get("ft1"))
                .addRunIds(ids.get("gr1"))
                .build());
    List<String> differing = c.getDifferencesList().stream().map(d -> d.getKey()).toList();
    assertTrue(
        differing.containsAll(
            List.of("learning_rate", "strategy", "freeze.train_last_blocks", "name")),
        differing.toString());
    assertFalse(differing.contains("batch_size"), differing.toString());
    assertTrue(c.getEqualParamCount() > 5);
    MetricComparison acc =
        c.getMetricsList().stream()
            .filter(m -> m.getKey().equals("val_accuracy"))
            .findFirst()
            .orElseThrow();
    assertTrue(acc.getHigherIsBetter());
    assertEquals(List.of(0.7, 0.93, 0.92), acc.getLastList());
    assertEquals(List.of(0.8, 0.95, 0.92), acc.getBestList());
    assertEquals(1, acc.getBestRunIndex());
    MetricComparison test =
        c.getMetricsList().stream()
            .filter(m -> m.getKey().equals("test.test_accuracy"))
            .findFirst()
            .orElseThrow();
    assertEquals(List.of(0.71, 0.94, 0.9), test.getLastList());
    assertFalse(c.getSameSplit(), "gr1 trained on another dataset's split");
    assertEquals(2, c.getSplitHashesCount());
    assertTrue(
        experiments
            .compareRuns(
                CompareRunsRequest.newBuilder()
                    .addRunIds(ids.get("tl1"))
                    .addRunIds(ids.get("tl2"))
                    .build())
            .getSameSplit());
    assertStatus(
        Code.INVALID_ARGUMENT,
        "give 2-100 runs",
        () ->
            experiments.compareRuns(
                CompareRunsRequest.newBuilder().addRunIds(ids.get("tl1")).build()));
    assertStatus(
        Code.NOT_FOUND,
        "run 987654321",
        () ->
            experiments.compareRuns(
                CompareRunsRequest.newBuilder()
                    .addRunIds(ids.get("tl1"))
                    .addRunIds(987654321)
                    .build()));
  }

  @Test
  void httpSearchSpeaksTheSameLanguage() {
    List<Integer> found =
        RestAssured.given()
            .queryParam("filter", "strategy = 'FINE_TUNING' AND metrics.val_accuracy.max > 0.5")
            .queryParam("orderBy", "metrics.val_accuracy.max DESC")
            .queryParam("experimentId", vision)
            .get("/api/runs")
            .then()
            .statusCode(200)
            .extract()
            .path("runs.id");
    assertEquals(List.of(ids.get("ft1").intValue()), found);
    RestAssured.given()
        .queryParam("filter", "strategy = ")
        .get("/api/runs")
        .then()
        .statusCode(400)
        .body("error", org.hamcrest.Matchers.containsString("at position 12"));
    RestAssured.given()
        .queryParam("pageSize", "x")
        .get("/api/runs")
        .then()
        .statusCode(400)
        .body(
            "error",
            org.hamcrest.Matchers.containsString("pageSize must be a whole number, got 'x'"));
  }

  // --- helpers

  private void expect(String filter, String... names) {
    List<Long> found = search(filter, List.of());
    List<Long> want = names(names);
    assertEquals(
        new java.util.TreeSet<>(want),
        new java.util.TreeSet<>(found),
        "filter " + filter + ": want " + List.of(names) + ", got " + nameOf(found));
  }

  private void bad(String filter, String text) {
    assertStatus(
        Code.INVALID_ARGUMENT,
        text,
        () -> experiments.searchRuns(request(filter, List.of(), 0, "")));
  }

  private List<Long> search(String filter, List<String> orderBy) {
    List<Long> out = new ArrayList<>();
    String token = "";
    do {
      SearchRunsResponse page = experiments.searchRuns(request(filter, orderBy, 3, token));
      page.getRunsList().forEach(r -> out.add(r.getId()));
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    return out;
  }

  private SearchRunsRequest request(String filter, List<String> orderBy, int size, String token) {
    return SearchRunsRequest.newBuilder()
        .setFilter(filter)
        .addAllOrderBy(orderBy)
        .setPageSize(size)
        .setPageToken(token)
        .addExperimentIds(vision)
        .addExperimentIds(text)
        .build();
  }

  private List<Long> names(String... names) {
    return java.util.Arrays.stream(names).map(ids::get).toList();
  }

  private List<String> nameOf(List<Long> found) {
    List<String> out = new ArrayList<>();
    for (Long id : found) {
      ids.forEach(
          (k, v) -> {
            if (v.equals(id)) {
              out.add(k);
            }
          });
    }
    return out;
  }

  private long experiment(String name, String... tags) {
    return experiments
        .createExperiment(
            CreateExperimentRequest.newBuilder().setName(name).addAllTags(List.of(tags)).build())
        .getId();
  }

  private void run(
      String name,
      long experiment,
      Strategy strategy,
      String model,
      Long baseId,
      String dataset,
      long datasetId,
      double lr,
      int epochs,
      int lastBlocks,
      double[] valAccuracy,
      double testAccuracy,
      RunStatus status) {
    RunSpec spec =
        TrainingGrpcService.toSpec(
                StartRunRequest.newBuilder()
                    .setExperimentId(experiment)
                    .setName(name)
                    .setBaseModel(model)
                    .setDataset(dataset)
                    .setStrategy(strategy)
                    .setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(lastBlocks))
                    .setHyperParameters(
                        HyperParameters.newBuilder()
                            .setLearningRate(lr)
                            .setEpochs(epochs)
                            .setEarlyStopping(EarlyStopping.newBuilder().setEnabled(true)))
                    .setSeed(7)
                    .build())
            .withDefaults();
    long id = store.createQueued(spec, baseId, datasetId, null, Map.of());
    ids.put(name, id);
    if (status != RunStatus.QUEUED) {
      store.claim(id);
      store.started(id, "cpu", "split-" + dataset, 100, 1000, true, List.of("a", "b"));
      for (int e = 0; e < valAccuracy.length; e++) {
        store.epoch(id, e, Map.of("val_accuracy", valAccuracy[e]));
      }
      if (testAccuracy >= 0) {
        store.tested(id, Map.of("test_accuracy", testAccuracy), List.of(), 10, null);
      }
      store.finish(id, status, status == RunStatus.FAILED ? "it failed" : null);
    }
  }

  private long dataset(String name) throws SQLException {
    return insert(
        "INSERT INTO dataset (name, kind, source, status, class_names, class_counts, "
            + "example_count, example_shape, storage_path, created_at) VALUES (?, 'IMAGE', "
            + "'UPLOAD', 'READY', '[\"a\",\"b\"]', '{\"a\":1,\"b\":1}', 2, '[1,2,2]', '/nowhere', now()) "
            + "RETURNING id",
        name);
  }

  private long datasetId(String name) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement st = c.prepareStatement("SELECT id FROM dataset WHERE name = ?")) {
      st.setString(1, name);
      try (ResultSet rs = st.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private long baseModel(String name) throws SQLException {
    return insert(
        "INSERT INTO base_model (name, architecture, source, onnx_path, sha256, feature_tensor, "
            + "input_spec, preprocessing, created_at) VALUES (?, 'cnn-small', 'IMPORT', "
            + "'/nowhere', repeat('0', 64), 'features', '{}', '{}', now()) RETURNING id",
        name);
  }

  private long insert(String sql, String name) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement st = c.prepareStatement(sql)) {
      st.setString(1, name);
      try (ResultSet rs = st.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
