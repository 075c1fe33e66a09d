package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.GetBaseModelRequest;
import dev.graft.api.v1.GetModelVersionRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ListModelVersionsRequest;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.ModelVersion;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.ResumeRunRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.support.GraftTest;
import io.grpc.Status;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Publishing a run is one transaction: a failure at any step leaves a FAILED run with nothing
 * served (no version, no alias, no base model), and resuming it publishes exactly one version.
 * Pre-training runs pass every step, the base model's included.
 */
@QuarkusTest
class PublishAtomicityTest extends GraftTest {

  @Inject FailingPublishStep failing;

  private Run pretrain(String name) {
    TrainingFixtures.synthetic(
        channel, "publish-source", List.of("circle", "square", "triangle", "cross"), 15, 31);
    return ModelServiceGrpc.newBlockingStub(channel)
        .pretrainBaseModel(
            PretrainBaseModelRequest.newBuilder()
                .setName(name)
                .setArchitecture("cnn-small")
                .setDataset("publish-source")
                .setExperimentId(TrainingFixtures.experiment(channel, "publish"))
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(1).setBatchSize(16))
                .setSplit(SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2))
                .setSeed(4)
                .setDevice(dev.graft.api.v1.Device.CPU)
                .build());
  }

  private Run resume(long runId) throws InterruptedException {
    TrainingServiceGrpc.newBlockingStub(channel)
        .resumeRun(ResumeRunRequest.newBuilder().setRunId(runId).build());
    return TrainingFixtures.awaitEnd(channel, runId, Duration.ofMinutes(3));
  }

  /** Nothing of the run is visible: no version (by alias or number), no base model. */
  private void assertNothingPublished(Run run, String name) {
    var models = ModelServiceGrpc.newBlockingStub(channel);
    assertEquals(RunStatus.FAILED, run.getStatus());
    assertEquals("", run.getModelVersion());
    assertStatus(
        Status.Code.NOT_FOUND,
        "'" + name + "'",
        () ->
            models.getModelVersion(
                GetModelVersionRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(name).setAlias("latest"))
                    .build()));
    assertEquals(
        0,
        models
            .listModelVersions(ListModelVersionsRequest.newBuilder().setRunId(run.getId()).build())
            .getVersionsCount());
    assertStatus(
        Status.Code.NOT_FOUND,
        "'" + name + "'",
        () -> models.getBaseModel(GetBaseModelRequest.newBuilder().setName(name).build()));
  }

  private void assertPublishedOnce(Run run, String name) {
    var models = ModelServiceGrpc.newBlockingStub(channel);
    assertEquals(RunStatus.SUCCEEDED, run.getStatus(), run.getError());
    List<ModelVersion> versions =
        models
            .listModelVersions(ListModelVersionsRequest.newBuilder().setModelName(name).build())
            .getVersionsList();
    assertEquals(1, versions.size());
    assertEquals(run.getId(), versions.get(0).getRunId());
    assertEquals(List.of("latest"), versions.get(0).getAliasesList());
    assertEquals(name + ":" + versions.get(0).getVersion(), run.getModelVersion());
    assertEquals(
        run.getId(),
        models
            .getBaseModel(GetBaseModelRequest.newBuilder().setName(name).build())
            .getPretrainRunId());
  }

  @ParameterizedTest
  @EnumSource(PublishStep.class)
  void aFailureAtAnyPublishStepLeavesNothingServedAndResumePublishesOnce(PublishStep step)
      throws Exception {
    String name = "publish-" + step.name().toLowerCase().replace('_', '-');
    failing.failNext(step, 1);
    Run failed = TrainingFixtures.awaitEnd(channel, pretrain(name).getId(), Duration.ofMinutes(3));
    assertTrue(failed.getError().contains("publish step " + step), failed.getError());
    assertNothingPublished(failed, name);

    assertPublishedOnce(resume(failed.getId()), name);
  }

  @Test
  void resumingTwiceAfterFailedPublicationsRegistersOneVersion() throws Exception {
    String name = "publish-twice";
    failing.failNext(PublishStep.ALIAS_MOVED, 2);
    long id =
        TrainingFixtures.awaitEnd(channel, pretrain(name).getId(), Duration.ofMinutes(3)).getId();
    assertNothingPublished(resume(id), name);
    assertPublishedOnce(resume(id), name);
    assertStatus(
        Status.Code.FAILED_PRECONDITION,
        "SUCCEEDED",
        () ->
            TrainingServiceGrpc.newBlockingStub(channel)
                .resumeRun(ResumeRunRequest.newBuilder().setRunId(id).build()));
  }

  @Test
  void aBaseModelNameTakenBeforeTheResumeFailsTheRunBeforeTrainingAndServesNothing()
      throws Exception {
    String name = "publish-clash";
    failing.failNext(PublishStep.SUCCEEDED, 1);
    long first =
        TrainingFixtures.awaitEnd(channel, pretrain(name).getId(), Duration.ofMinutes(3)).getId();
    // The name is free again (nothing was published), so a second pre-training takes it.
    Run second = TrainingFixtures.awaitEnd(channel, pretrain(name).getId(), Duration.ofMinutes(3));
    assertPublishedOnce(second, name);

    Run resumed = resume(first);
    assertEquals(RunStatus.FAILED, resumed.getStatus());
    assertTrue(
        resumed.getError().contains("was registered after this run was queued"),
        resumed.getError());
    assertEquals("", resumed.getModelVersion());
    assertEquals(
        0,
        ModelServiceGrpc.newBlockingStub(channel)
            .listModelVersions(ListModelVersionsRequest.newBuilder().setRunId(first).build())
            .getVersionsCount());
  }
}
