package dev.graft.training;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.ImportTestSupport;
import dev.graft.api.v1.BaseModel;
import dev.graft.api.v1.ComparisonServiceGrpc;
import dev.graft.api.v1.CutPointProbe;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ImagePreprocessing;
import dev.graft.api.v1.ImportBaseModelHeader;
import dev.graft.api.v1.ProbeLayersRequest;
import dev.graft.api.v1.ProbeLayersResponse;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.model.Architecture;
import dev.graft.model.Architectures;
import dev.graft.model.GraphParameters;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ProbeLayers through gRPC: one row per cut point with its feature size and a converged probe's
 * validation accuracy, deterministic, equal to the validation accuracy of a default
 * TRANSFER_LEARNING run grafted at that cut point on the same split; imported backbones; refusals.
 */
@QuarkusTest
class ProbeLayersTest extends GraftTest {

  private ComparisonServiceGrpc.ComparisonServiceBlockingStub comparisons;
  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;

  @BeforeEach
  void setUp() throws InterruptedException {
    comparisons = ComparisonServiceGrpc.newBlockingStub(channel);
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.targetData(channel);
    TrainingFixtures.baseModel(channel);
    experiment = TrainingFixtures.experiment(channel, "probe");
  }

  private static SplitSpec split() {
    return SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2).build();
  }

  private static ProbeLayersRequest.Builder request(String baseModel) {
    return ProbeLayersRequest.newBuilder()
        .setBaseModel(baseModel)
        .setDataset(TrainingFixtures.TARGET)
        .setSplit(split())
        .setSeed(3);
  }

  @Test
  void everyBlockOfCnnSmallGetsAProbeThatAFrozenRunAtThatCutReproduces() throws Exception {
    ProbeLayersResponse sweep = comparisons.probeLayers(request(TrainingFixtures.BASE).build());
    assertEquals(
        List.of("features.0", "features.1", "features.2"),
        sweep.getProbesList().stream().map(CutPointProbe::getName).toList());
    assertEquals(
        List.of(16, 32, 64),
        sweep.getProbesList().stream().map(CutPointProbe::getFeatureSize).toList());
    assertEquals(List.of(16L, 14L, 14L), sweep.getProbes(0).getShapeList());
    assertEquals(
        List.of(false, false, true),
        sweep.getProbesList().stream().map(CutPointProbe::getFeatureTensor).toList());
    for (CutPointProbe p : sweep.getProbesList()) {
      assertTrue(p.getValAccuracy() >= 0 && p.getValAccuracy() <= 1, p.toString());
      assertTrue(p.getValLoss() > 0 && p.getL2() > 0 && p.getTrainSeconds() >= 0, p.toString());
    }
    // 30 examples per class, 20 % each for validation and test: 18 + 6 per class.
    assertEquals(72, sweep.getTrainExamples());
    assertEquals(24, sweep.getValidationExamples());
    assertTrue(
        sweep.getFeatureSeconds() > 0 && sweep.getTotalSeconds() >= sweep.getFeatureSeconds());
    CutPointProbe best =
        sweep.getProbesList().stream()
            .filter(p -> p.getName().equals(sweep.getBestCutPoint()))
            .findFirst()
            .orElseThrow();
    for (CutPointProbe p : sweep.getProbesList()) {
      assertTrue(best.getValAccuracy() >= p.getValAccuracy());
    }

    // Deterministic for a seed.
    ProbeLayersResponse again = comparisons.probeLayers(request(TrainingFixtures.BASE).build());
    for (int i = 0; i < 3; i++) {
      assertEquals(sweep.getProbes(i).getValAccuracy(), again.getProbes(i).getValAccuracy());
      assertEquals(sweep.getProbes(i).getValLoss(), again.getProbes(i).getValLoss(), 1e-9);
      assertEquals(sweep.getProbes(i).getL2(), again.getProbes(i).getL2());
    }
    assertEquals(sweep.getSplitHash(), again.getSplitHash());

    // Default TRANSFER_LEARNING runs (the same solver on the same features): at the feature
    // tensor, and at the first block.
    for (String cut : List.of("", "features.0")) {
      Run run = defaultTransfer(TrainingFixtures.BASE, cut);
      assertEquals(sweep.getSplitHash(), run.getSplitHash(), "same examples");
      CutPointProbe probe = cut.isEmpty() ? sweep.getProbes(2) : sweep.getProbes(0);
      assertEquals(
          probe.getValAccuracy(),
          TrainingFixtures.valAccuracy(run),
          1.0 / 24 + 1e-9,
          "probe at " + probe.getName() + " vs the run's validation accuracy");
    }
  }

  @Test
  void cutPointsCanBeChosenAndUnknownOnesAreListed() {
    ProbeLayersResponse two =
        comparisons.probeLayers(
            request(TrainingFixtures.BASE)
                .addCutPoints("features.1.pool")
                .addCutPoints("features.0")
                .setMaxTrainExamples(40)
                .build());
    assertEquals(
        List.of("features.0", "features.1"),
        two.getProbesList().stream().map(CutPointProbe::getName).toList());
    assertEquals(40, two.getTrainExamples());

    assertStatus(
        Code.INVALID_ARGUMENT,
        "cut point 'block3' is not one of base model '"
            + TrainingFixtures.BASE
            + "': use one of features.0 (tensor features.0.pool, 16 features), features.1 (tensor"
            + " features.1.pool, 32 features), features.2 (tensor features, 64 features)",
        () ->
            comparisons.probeLayers(request(TrainingFixtures.BASE).addCutPoints("block3").build()));
    assertStatus(
        Code.NOT_FOUND,
        "no-such-model",
        () -> comparisons.probeLayers(request("no-such-model").build()));
    assertStatus(
        Code.NOT_FOUND,
        "no-such-data",
        () ->
            comparisons.probeLayers(
                request(TrainingFixtures.BASE).setDataset("no-such-data").build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "split.validation_fraction must be in (0, 0.5], got 0.7",
        () ->
            comparisons.probeLayers(
                request(TrainingFixtures.BASE)
                    .setSplit(SplitSpec.newBuilder().setValidationFraction(0.7))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "max_train_examples must be >= 0",
        () ->
            comparisons.probeLayers(
                request(TrainingFixtures.BASE).setMaxTrainExamples(-1).build()));
  }

  @Test
  void anImportedOnnxBackboneIsProbedAtItsBlocks() throws Exception {
    Architecture arch = Architectures.get("resnet-mini");
    byte[] onnx = arch.classifier(10, 7).toByteArray();
    BaseModel imported =
        ImportTestSupport.importModel(
            channel,
            ImportBaseModelHeader.newBuilder()
                .setName("probe-resnet-" + UUID.randomUUID().toString().substring(0, 6))
                .setFeatureTensor(arch.featureTensor())
                .setPreprocessing(
                    ImagePreprocessing.newBuilder()
                        .setChannels(1)
                        .setHeight(28)
                        .setWidth(28)
                        .setScale(1f / 255)
                        .addMean(0.5f)
                        .addStd(0.5f))
                .build(),
            onnx);
    ProbeLayersResponse sweep = comparisons.probeLayers(request(imported.getName()).build());
    List<String> blocks =
        GraphParameters.of(
                dev.graft.model.GraphSurgery.cut(arch.classifier(10, 7), arch.featureTensor()))
            .blocks();
    assertEquals(blocks, sweep.getProbesList().stream().map(CutPointProbe::getName).toList());
    assertTrue(sweep.getProbesCount() >= 3, sweep.toString());
    for (CutPointProbe p : sweep.getProbesList()) {
      assertTrue(p.getFeatureSize() > 0 && p.getValAccuracy() >= 0 && p.getValAccuracy() <= 1);
    }
    // A run grafted after the second block of the imported backbone: a head trained by gradient
    // descent (this random backbone's features have a small spread, so the converged probe's
    // weights are large enough for the absolute 1e-4 parity gate to refuse its export).
    CutPointProbe early = sweep.getProbes(1);
    Run queued =
        training.startRun(
            TrainingFixtures.small(experiment, Strategy.TRANSFER_LEARNING)
                .setBaseModel(imported.getName())
                .setCutPoint(early.getTensor())
                .build());
    Run run = TrainingFixtures.awaitEnd(channel, queued.getId(), Duration.ofMinutes(3));
    assertEquals(RunStatus.SUCCEEDED, run.getStatus(), run.getError());
    assertEquals(early.getName(), run.getCutPoint());
    assertEquals(
        (long) early.getFeatureSize() * 4 + 4, run.getTrainableParameters(), "a linear head");
    assertTrue(
        run.getTotalParameters()
            < GraphParameters.of(arch.classifier(4, 7)).counts(List.of()).total());
  }

  /** A TRANSFER_LEARNING run with the automatic budget (the L-BFGS head fit) on the probe split. */
  private Run defaultTransfer(String baseModel, String cut) throws InterruptedException {
    Run queued =
        training.startRun(
            TrainingFixtures.small(experiment, Strategy.TRANSFER_LEARNING)
                .setBaseModel(baseModel)
                .setHyperParameters(HyperParameters.getDefaultInstance())
                .setSplit(split())
                .setCutPoint(cut)
                .build());
    Run done = TrainingFixtures.awaitEnd(channel, queued.getId(), Duration.ofMinutes(3));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    return done;
  }
}
