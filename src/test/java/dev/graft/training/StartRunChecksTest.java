package dev.graft.training;

import static dev.graft.training.TrainingFixtures.small;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.graft.api.ImportTestSupport;
import dev.graft.api.v1.CancelRunRequest;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.FreezeSpec;
import dev.graft.api.v1.ImportBaseModelHeader;
import dev.graft.api.v1.ListRunsRequest;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.model.Architectures;
import dev.graft.model.InputSpec;
import dev.graft.support.GraftTest;
import io.grpc.Status;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * StartRun checks the whole configuration against the dataset and the base model before it queues
 * anything: a run that cannot train is refused at once, never QUEUED to FAIL in the background.
 */
@QuarkusTest
class StartRunChecksTest extends GraftTest {

  @Inject RunStore store;
  @Inject BaseModelBootstrap bootstrap;
  @Inject dev.graft.model.BaseModels baseModels;
  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;

  @BeforeEach
  void setUp() throws InterruptedException {
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.targetData(channel);
    TrainingFixtures.baseModel(channel);
    experiment = TrainingFixtures.experiment(channel, "checks");
  }

  private long runsOfExperiment() {
    return training
        .listRuns(ListRunsRequest.newBuilder().setExperimentId(experiment).build())
        .getRunsCount();
  }

  /** A CSV dataset of {@code features} columns and two classes, registered from the imports. */
  private String featureDataset(int features) throws Exception {
    String name = "csv-" + features + "-" + UUID.randomUUID().toString().substring(0, 8);
    Path imports =
        ConfigProvider.getConfig().getValue("graft.storage.dir", Path.class).resolve("imports");
    Files.createDirectories(imports);
    StringBuilder csv = new StringBuilder();
    for (int f = 0; f < features; f++) {
      csv.append("f").append(f).append(',');
    }
    csv.append("label\n");
    for (int i = 0; i < 20; i++) {
      for (int f = 0; f < features; f++) {
        csv.append(i * 0.1 + f).append(',');
      }
      csv.append(i % 2 == 0 ? "even" : "odd").append('\n');
    }
    Files.writeString(imports.resolve(name + ".csv"), csv);
    DatasetServiceGrpc.newBlockingStub(channel)
        .registerDataset(
            RegisterDatasetRequest.newBuilder()
                .setName(name)
                .setSource(DatasetSource.DATASET_SOURCE_CSV)
                .setPath(name + ".csv")
                .build());
    return name;
  }

  @Test
  void aFreezeSpecTheModelCannotMeetIsRefusedAtStartRun() {
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "freeze pattern '([' matches no parameter",
        () ->
            training.startRun(
                small(experiment, Strategy.FINE_TUNING)
                    .setFreeze(FreezeSpec.newBuilder().addTrainPatterns("(["))
                    .build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "cannot train the last 1000 blocks",
        () ->
            training.startRun(
                small(experiment, Strategy.FINE_TUNING)
                    .setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(1000))
                    .build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "cannot train the last 1000 blocks",
        () ->
            training.startRun(
                small(experiment, Strategy.GRADUAL)
                    .setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(1000))
                    .build()));
    assertEquals(0, runsOfExperiment(), "nothing was queued");
  }

  @Test
  void aDatasetThatDoesNotFitTheModelsInputIsRefusedAtStartRun() throws Exception {
    String twoFeatures = featureDataset(2);
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "dataset '"
            + twoFeatures
            + "' holds feature vectors of [2] but base model '"
            + TrainingFixtures.BASE
            + "' takes images (1x28x28)",
        () ->
            training.startRun(
                small(experiment, Strategy.TRANSFER_LEARNING).setDataset(twoFeatures).build()));

    String mlp = "mlp-3-" + UUID.randomUUID().toString().substring(0, 8);
    ImportTestSupport.importModel(
        channel,
        ImportBaseModelHeader.newBuilder().setName(mlp).setFeatureTensor("features").build(),
        Architectures.get("mlp", InputSpec.features(3)).classifier(2, 1).toByteArray());
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "dataset '" + TrainingFixtures.TARGET + "' holds images but base model '" + mlp + "'",
        () ->
            training.startRun(
                small(experiment, Strategy.TRANSFER_LEARNING).setBaseModel(mlp).build()));
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "dataset '"
            + twoFeatures
            + "' has examples of shape [2] but base model '"
            + mlp
            + "' takes [3]",
        () ->
            training.startRun(
                small(experiment, Strategy.TRANSFER_LEARNING)
                    .setBaseModel(mlp)
                    .setDataset(twoFeatures)
                    .build()));
    assertEquals(0, runsOfExperiment(), "nothing was queued");

    Run fits =
        training.startRun(
            small(experiment, Strategy.TRANSFER_LEARNING)
                .setBaseModel(mlp)
                .setDataset(featureDataset(3))
                .build());
    assertEquals(RunStatus.QUEUED, fits.getStatus());
    try {
      training.cancelRun(CancelRunRequest.newBuilder().setRunId(fits.getId()).build());
    } catch (io.grpc.StatusRuntimeException finishedFirst) {
      assertEquals(Status.Code.FAILED_PRECONDITION, finishedFirst.getStatus().getCode());
    }
    Run ended = TrainingFixtures.awaitEnd(channel, fits.getId(), java.time.Duration.ofMinutes(2));

    // The trigger of V12 recorded every status it went through; a replay carries all of them.
    List<RunStore.StatusChange> changes = store.statusChanges(fits.getId());
    List<dev.graft.experiments.RunStatus> statuses =
        changes.stream().map(RunStore.StatusChange::status).toList();
    assertEquals(dev.graft.experiments.RunStatus.QUEUED, statuses.get(0));
    assertEquals(ended.getStatus().name(), statuses.get(statuses.size() - 1).name());
    assertEquals(
        statuses,
        Runs.history(store.view(fits.getId()), changes).stream()
            .filter(e -> e instanceof RunEvent.StatusChanged)
            .map(e -> ((RunEvent.StatusChanged) e).status())
            .toList());
  }

  @Test
  void aTextEncoderRefusesImagesAndFeatureVectorsAndKeepsItsTokenizerBesideIt() throws Exception {
    bootstrap.registerMinilm();
    Path tokenizer = baseModels.tokenizerFile(BaseModelBootstrap.MINILM);
    assertEquals(baseModels.file(BaseModelBootstrap.MINILM).getParent(), tokenizer.getParent());
    byte[] shipped;
    try (java.io.InputStream in =
        BaseModelBootstrap.class.getResourceAsStream(BaseModelBootstrap.MINILM_TOKENIZER)) {
      shipped = in.readAllBytes();
    }
    org.junit.jupiter.api.Assertions.assertArrayEquals(shipped, Files.readAllBytes(tokenizer));
    bootstrap.registerMinilm(); // idempotent: a second start stores nothing twice
    org.junit.jupiter.api.Assertions.assertArrayEquals(shipped, Files.readAllBytes(tokenizer));

    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "base model 'all-minilm-l6-v2' is a text encoder and takes raw texts, but dataset '"
            + TrainingFixtures.TARGET
            + "' holds images; use a text dataset",
        () ->
            training.startRun(
                small(experiment, Strategy.FINE_TUNING)
                    .setBaseModel(BaseModelBootstrap.MINILM)
                    .build()));
    String features = featureDataset(384);
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "dataset '" + features + "' holds feature vectors; use a text dataset",
        () ->
            training.startRun(
                small(experiment, Strategy.TRANSFER_LEARNING)
                    .setBaseModel(BaseModelBootstrap.MINILM)
                    .setDataset(features)
                    .build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "max_sequence_length must be 2-512 tokens (0: 128), got 513",
        () ->
            training.startRun(
                small(experiment, Strategy.TRANSFER_LEARNING)
                    .setBaseModel(BaseModelBootstrap.MINILM)
                    .setHyperParameters(
                        dev.graft.api.v1.HyperParameters.newBuilder()
                            .setEpochs(1)
                            .setMaxSequenceLength(513))
                    .build()));
    assertEquals(0, runsOfExperiment(), "nothing was queued");
  }

  @Test
  void aNegativeExperimentIdIsInvalid() {
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "experiment_id -1 is negative",
        () -> training.listRuns(ListRunsRequest.newBuilder().setExperimentId(-1).build()));
  }
}
