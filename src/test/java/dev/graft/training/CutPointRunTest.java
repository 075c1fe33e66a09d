package dev.graft.training;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.FreezeSpec;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SearchRunsRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * StartRun with a cut point, through gRPC: the head is grafted after an earlier block, the blocks
 * after it are not in the exported model, the cut point is recorded, exported and searchable.
 */
@QuarkusTest
class CutPointRunTest extends GraftTest {

  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;

  @BeforeEach
  void setUp() throws InterruptedException {
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.targetData(channel);
    TrainingFixtures.baseModel(channel);
    experiment = TrainingFixtures.experiment(channel, "cut");
  }

  @Test
  void transferLearningAtAnEarlierBlockDropsTheRestOfTheBackbone() throws Exception {
    Run queued =
        training.startRun(
            TrainingFixtures.small(experiment, Strategy.TRANSFER_LEARNING)
                .setName("tl-at-features-0")
                .setCutPoint("features.0")
                .build());
    assertEquals("features.0", queued.getCutPoint());
    Run done = TrainingFixtures.awaitEnd(channel, queued.getId(), Duration.ofMinutes(3));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    assertEquals("features.0", done.getCutPoint());
    assertEquals("features.0", done.getConfig().getCutPoint());

    ModelProto exported = download(done.getModelVersion());
    List<String> names =
        exported.getGraph().getInitializerList().stream().map(TensorProto::getName).toList();
    assertTrue(names.stream().anyMatch(n -> n.startsWith("features.0.")), names.toString());
    assertFalse(
        names.stream().anyMatch(n -> n.startsWith("features.1.") || n.startsWith("features.2.")),
        "the blocks after the cut are dropped: " + names);
    TensorProto weight =
        exported.getGraph().getInitializerList().stream()
            .filter(t -> t.getName().equals("head.0.weight"))
            .findFirst()
            .orElseThrow();
    assertEquals(List.of(4L, 16L), weight.getDimsList(), "16 channels after global pooling");
    Map<String, String> metadata = new LinkedHashMap<>();
    exported.getMetadataPropsList().forEach(p -> metadata.put(p.getKey(), p.getValue()));
    assertEquals("features.0", metadata.get("graft.cut_point"));
    assertEquals("features.0.pool", metadata.get("graft.feature_tensor"));

    List<String> found =
        ExperimentServiceGrpc.newBlockingStub(channel)
            .searchRuns(
                SearchRunsRequest.newBuilder()
                    .setFilter("params.cut_point = 'features.0'")
                    .addExperimentIds(experiment)
                    .build())
            .getRunsList()
            .stream()
            .map(Run::getName)
            .toList();
    assertEquals(List.of("tl-at-features-0"), found);
  }

  @Test
  void fineTuningAtATensorNameCountsBlocksUpToTheCut() throws Exception {
    Run queued =
        training.startRun(
            TrainingFixtures.small(experiment, Strategy.FINE_TUNING)
                .setCutPoint("features.1.pool")
                .setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(1))
                .build());
    assertEquals("features.1", queued.getCutPoint(), "stored as the block name");
    Run done = TrainingFixtures.awaitEnd(channel, queued.getId(), Duration.ofMinutes(3));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    // features.1: conv 16*32*9 + BatchNorm 2*32; head 32*4 + 4.
    assertEquals(16 * 32 * 9 + 64 + 32 * 4 + 4, done.getTrainableParameters());
    ModelProto exported = download(done.getModelVersion());
    assertFalse(
        exported.getGraph().getInitializerList().stream()
            .anyMatch(t -> t.getName().startsWith("features.2.")));
  }

  @Test
  void cutPointsAreRefusedWhereTheyCannotApply() {
    assertStatus(
        Code.INVALID_ARGUMENT,
        "FROM_SCRATCH trains every layer from random weights, so it has no cut point",
        () ->
            training.startRun(
                TrainingFixtures.small(experiment, Strategy.FROM_SCRATCH)
                    .setCutPoint("features.0")
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "cut point 'block9' is not one of base model '"
            + TrainingFixtures.BASE
            + "': use one of features.0 (tensor features.0.pool, 16 features), features.1",
        () ->
            training.startRun(
                TrainingFixtures.small(experiment, Strategy.TRANSFER_LEARNING)
                    .setCutPoint("block9")
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "cannot train the last 2 blocks: graph",
        () ->
            training.startRun(
                TrainingFixtures.small(experiment, Strategy.FINE_TUNING)
                    .setCutPoint("features.0")
                    .setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(2))
                    .build()));
  }

  private ModelProto download(String ref) throws Exception {
    String model = ref.substring(0, ref.indexOf(':'));
    ByteString bytes =
        TrainingFixtures.download(
            channel,
            DownloadModelVersionRequest.newBuilder()
                .setModel(
                    ModelRef.newBuilder()
                        .setName(model)
                        .setVersion(Integer.parseInt(ref.substring(ref.indexOf(':') + 1))))
                .build());
    return ModelProto.parseFrom(bytes);
  }
}
