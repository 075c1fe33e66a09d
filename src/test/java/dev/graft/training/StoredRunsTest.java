package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.ListRunsRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.support.GraftTest;
import io.grpc.Status;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Runs stored by earlier versions of Graft still read: the checked-in fixtures of the config and
 * summary JSON written before the versioned storage form go into the database as they were, and
 * come back through TrainingService.GetRun and ListRuns.
 */
@QuarkusTest
class StoredRunsTest extends GraftTest {

  @Inject EntityManager em;

  private static String fixture(String name) throws IOException {
    try (InputStream in = StoredRunsTest.class.getResourceAsStream("/stored-runs/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private long insert(
      long experiment, String strategy, String status, String config, String summary) {
    return QuarkusTransaction.requiringNew()
        .call(
            () ->
                ((Number)
                        em.createNativeQuery(
                                "INSERT INTO run (experiment_id, name, strategy, status, config,"
                                    + " seed, requested_device, summary, created_at, updated_at)"
                                    + " VALUES (?1, 'stored', ?2, ?3, CAST(?4 AS jsonb), 7, 'CPU',"
                                    + " CAST(?5 AS jsonb), now(), now()) RETURNING id")
                            .setParameter(1, experiment)
                            .setParameter(2, strategy)
                            .setParameter(3, status)
                            .setParameter(4, config)
                            .setParameter(5, summary)
                            .getSingleResult())
                    .longValue());
  }

  private Run get(long id) {
    return TrainingServiceGrpc.newBlockingStub(channel)
        .getRun(GetRunRequest.newBuilder().setRunId(id).build());
  }

  @Test
  void everyStrategysConfigStoredBeforeTheVersionedFormStillReads() throws IOException {
    long experiment = TrainingFixtures.experiment(channel, "stored");
    String empty = fixture("queued.summary.json");

    StartRunRequest tl =
        get(insert(
                experiment,
                "TRANSFER_LEARNING",
                "QUEUED",
                fixture("transfer-learning.config.json"),
                empty))
            .getConfig();
    assertEquals(dev.graft.api.v1.Strategy.TRANSFER_LEARNING, tl.getStrategy());
    assertEquals("fixture-base", tl.getBaseModel());
    assertEquals("fixture-target", tl.getDataset());
    assertEquals("tl-model", tl.getModelName());
    assertEquals(List.of(32), tl.getHead().getHiddenSizesList());
    assertEquals(0.2f, tl.getHead().getDropout());
    assertEquals(dev.graft.api.v1.OptimizerKind.ADAM, tl.getHyperParameters().getOptimizer());
    assertEquals(0.01, tl.getHyperParameters().getLearningRate());
    assertEquals(8, tl.getHyperParameters().getEpochs());
    assertEquals(16, tl.getHyperParameters().getBatchSize());
    assertTrue(tl.getHyperParameters().getClassWeighting());
    assertTrue(tl.getHyperParameters().getEarlyStopping().getEnabled());
    assertEquals("val_accuracy", tl.getHyperParameters().getEarlyStopping().getMetric());
    assertEquals(2, tl.getHyperParameters().getEarlyStopping().getPatience());
    assertEquals(0.001, tl.getHyperParameters().getEarlyStopping().getMinDelta());
    assertTrue(tl.getHyperParameters().getEarlyStopping().getRestoreBest());
    assertEquals(0.2, tl.getSplit().getValidationFraction());
    assertEquals(7, tl.getSeed());
    assertEquals(dev.graft.api.v1.Device.CPU, tl.getDevice());

    StartRunRequest ft =
        get(insert(experiment, "FINE_TUNING", "QUEUED", fixture("fine-tuning.config.json"), empty))
            .getConfig();
    assertEquals(dev.graft.api.v1.Strategy.FINE_TUNING, ft.getStrategy());
    assertEquals(2, ft.getFreeze().getTrainLastBlocks());
    assertEquals(List.of("conv3"), ft.getFreeze().getTrainPatternsList());
    var h = ft.getHyperParameters();
    assertEquals(dev.graft.api.v1.OptimizerKind.SGD, h.getOptimizer());
    assertEquals(0.05, h.getLearningRate());
    assertEquals(0.2, h.getBackboneLrMultiplier());
    assertEquals(5.0e-4, h.getWeightDecay());
    assertEquals(0.9, h.getMomentum());
    assertEquals(dev.graft.api.v1.Schedule.STEP, h.getSchedule());
    assertEquals(1, h.getWarmupEpochs());
    assertEquals(2, h.getStepEpochs());
    assertEquals(0.5, h.getStepGamma());
    assertTrue(h.getAugmentRandomCrop());
    assertTrue(h.getAugmentHorizontalFlip());
    assertEquals(100, ft.getSplit().getMaxTrainExamples());
    assertEquals(dev.graft.api.v1.Device.AUTO, ft.getDevice());

    StartRunRequest gradual =
        get(insert(experiment, "GRADUAL", "QUEUED", fixture("gradual.config.json"), empty))
            .getConfig();
    assertEquals(dev.graft.api.v1.Strategy.GRADUAL, gradual.getStrategy());
    assertEquals("gradual", gradual.getName());
    assertEquals(dev.graft.api.v1.OptimizerKind.ADAMW, gradual.getHyperParameters().getOptimizer());
    assertEquals(2, gradual.getHyperParameters().getHeadEpochs());
    assertEquals(6, gradual.getHyperParameters().getEpochs());
    assertEquals(dev.graft.api.v1.Schedule.COSINE, gradual.getHyperParameters().getSchedule());
    assertEquals(42, gradual.getSeed());

    StartRunRequest scratch =
        get(insert(
                experiment, "FROM_SCRATCH", "QUEUED", fixture("from-scratch.config.json"), empty))
            .getConfig();
    assertEquals(dev.graft.api.v1.Strategy.FROM_SCRATCH, scratch.getStrategy());
    assertEquals(List.of(64, 16), scratch.getHead().getHiddenSizesList());
    assertEquals("tanh", scratch.getHead().getActivation());
    assertEquals(5, scratch.getHyperParameters().getEpochs());
    assertEquals(32, scratch.getHyperParameters().getBatchSize());
    assertEquals(99, scratch.getSeed());

    Run pretraining =
        get(
            insert(
                experiment,
                "PRETRAINING",
                "SUCCEEDED",
                fixture("pretraining.config.json"),
                fixture("pretraining.summary.json")));
    assertEquals("cnn-small-shapes", pretraining.getConfig().getModelName());
    assertEquals(0.002, pretraining.getConfig().getHyperParameters().getLearningRate());
    assertEquals(64, pretraining.getConfig().getHyperParameters().getBatchSize());
    assertEquals(3, pretraining.getConfig().getHyperParameters().getEpochs());
    assertEquals(0.05, pretraining.getConfig().getSplit().getValidationFraction());
    assertEquals("cnn-small-shapes:1", pretraining.getModelVersion());
    assertEquals(List.of("circle", "square", "triangle", "cross"), pretraining.getLabelsList());

    // And all of them in one page.
    List<Run> listed =
        TrainingServiceGrpc.newBlockingStub(channel)
            .listRuns(ListRunsRequest.newBuilder().setExperimentId(experiment).build())
            .getRunsList();
    assertEquals(5, listed.size());
  }

  @Test
  void summariesStoredBeforeTheTypedSummaryStillRead() throws IOException {
    long experiment = TrainingFixtures.experiment(channel, "stored");
    Run succeeded =
        get(
            insert(
                experiment,
                "TRANSFER_LEARNING",
                "SUCCEEDED",
                fixture("transfer-learning.config.json"),
                fixture("transfer-learning.summary.json")));
    assertTrue(succeeded.getFeatureCache());
    assertEquals(List.of("ring", "bar", "half_disk", "frame"), succeeded.getLabelsList());
    assertEquals(
        Map.of("test_loss", 0.41266, "test_accuracy", 0.875, "test_macro_f1", 0.8714285714285714),
        succeeded.getTestMetricsMap());
    assertEquals(
        List.of(6L, 0L, 0L, 0L, 1L, 5L, 0L, 0L, 0L, 1L, 5L, 0L, 0L, 0L, 1L, 5L),
        succeeded.getConfusionMatrixList());
    assertEquals("tl-model:1", succeeded.getModelVersion());

    Run failed =
        get(
            insert(
                experiment,
                "TRANSFER_LEARNING",
                "FAILED",
                fixture("transfer-learning.config.json"),
                fixture("failed.summary.json")));
    assertEquals(List.of("ring", "bar", "half_disk", "frame"), failed.getLabelsList());
    assertEquals("", failed.getModelVersion());
    assertEquals(Map.of(), failed.getTestMetricsMap());
  }

  @Test
  void unknownFieldsAreIgnoredAndANewerVersionIsNamed() throws IOException {
    long experiment = TrainingFixtures.experiment(channel, "stored");
    // A version-1 document with a field this version does not know, as a later Graft may write.
    String withExtra =
        fixture("fine-tuning.config.json")
            .replaceFirst("\\{", "{ \"futureField\" : {\"x\" : [1, 2]},");
    assertEquals(
        2,
        get(insert(experiment, "FINE_TUNING", "QUEUED", withExtra, "{}"))
            .getConfig()
            .getFreeze()
            .getTrainLastBlocks());
    String v1Extra =
        "{\"v\": 1, \"strategy\": \"fine_tuning\", \"dataset\": \"d\", \"base_model\": \"b\","
            + " \"hyper_parameters\": {\"epochs\": 3, \"optimizer\": \"sgd\", \"new_knob\": 1}}";
    StartRunRequest lenient =
        get(insert(experiment, "FINE_TUNING", "QUEUED", v1Extra, "{\"v\": 1, \"extra\": true}"))
            .getConfig();
    assertEquals(dev.graft.api.v1.Strategy.FINE_TUNING, lenient.getStrategy());
    assertEquals(dev.graft.api.v1.OptimizerKind.SGD, lenient.getHyperParameters().getOptimizer());
    assertEquals(3, lenient.getHyperParameters().getEpochs());
    assertEquals(0.01, lenient.getHyperParameters().getLearningRate()); // SGD's default
    assertEquals(32, lenient.getHyperParameters().getBatchSize());

    long newer = insert(experiment, "FINE_TUNING", "QUEUED", "{\"v\": 99}", "{}");
    assertStatus(Status.Code.FAILED_PRECONDITION, "configuration version 99", () -> get(newer));
  }
}
