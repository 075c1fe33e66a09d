package dev.graft.training;

import static dev.graft.support.GraftTest.assertStatus;
import static dev.graft.training.TrainingFixtures.assertBitIdentical;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.graft.api.v1.BaseModel;
import dev.graft.api.v1.FreezeSpec;
import dev.graft.api.v1.ImagePreprocessing;
import dev.graft.api.v1.ImportBaseModelHeader;
import dev.graft.api.v1.ListModelVersionsRequest;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.ModelVersion;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.model.GraphParameters;
import dev.graft.model.GraphSurgery;
import dev.graft.onnx.OnnxImport;
import dev.graft.serving.ServingFixtures;
import dev.graft.support.BaseModelImports;
import dev.graft.support.GraftTest;
import dev.graft.support.TorchExports;
import io.grpc.Status.Code;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real PyTorch exports (scripts/export-torch-models.sh) through gRPC: imported as PyTorch wrote
 * them, trained with both strategies, exported and passed through the parity gate. Transfer
 * learning keeps every backbone initializer, BatchNorm statistics included, bit-identical;
 * fine-tuning the last block changes that block's initializers and no other.
 */
@QuarkusTest
class TorchImportTrainingTest extends GraftTest {

  private static final ImagePreprocessing RGB32 = rgb(32, 32);

  private long experiment;

  @BeforeEach
  void setUp() {
    experiment = TrainingFixtures.experiment(channel, "torch-import");
    TrainingFixtures.targetData(channel);
  }

  private static ImagePreprocessing rgb(int height, int width) {
    return ImagePreprocessing.newBuilder()
        .setChannels(3)
        .setHeight(height)
        .setWidth(width)
        .setScale(1f / 255)
        .addAllMean(List.of(0.485f, 0.456f, 0.406f))
        .addAllStd(List.of(0.229f, 0.224f, 0.225f))
        .build();
  }

  private BaseModel importExport(TorchExports.Export export, ImagePreprocessing preprocessing)
      throws Exception {
    return importExport(export, export.bytes(), preprocessing);
  }

  private BaseModel importExport(
      TorchExports.Export export, byte[] bytes, ImagePreprocessing preprocessing) throws Exception {
    return BaseModelImports.importModel(
        channel,
        ImportBaseModelHeader.newBuilder()
            .setName(
                export.toString().replace(".onnx", "")
                    + "-"
                    + UUID.randomUUID().toString().substring(0, 6))
            .setFeatureTensor(export.featureTensor())
            .setPreprocessing(preprocessing)
            .build(),
        bytes);
  }

  private ModelVersion train(BaseModel base, Strategy strategy, int lastBlocks)
      throws InterruptedException {
    var request = TrainingFixtures.small(experiment, strategy).setBaseModel(base.getName());
    if (lastBlocks > 0) {
      request.setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(lastBlocks));
    }
    Run started = TrainingServiceGrpc.newBlockingStub(channel).startRun(request.build());
    Run done = TrainingFixtures.awaitEnd(channel, started.getId(), Duration.ofMinutes(4));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    List<ModelVersion> versions =
        ModelServiceGrpc.newBlockingStub(channel)
            .listModelVersions(ListModelVersionsRequest.newBuilder().setRunId(done.getId()).build())
            .getVersionsList();
    assertEquals(1, versions.size());
    ModelVersion v = versions.get(0);
    assertTrue(v.getParityMaxAbsDiff() <= 1e-4, "parity " + v.getParityMaxAbsDiff());
    Map<String, String> meta = v.getMetadataMap();
    assertEquals(base.getName(), meta.get("graft.base_model"));
    assertEquals(base.getSha256(), meta.get("graft.base_model_sha256"));
    assertEquals("3", meta.get("graft.seed"));
    assertEquals(64, meta.get("graft.dataset_sha256").length(), meta.toString());
    assertEquals(done.getSplitHash(), meta.get("graft.split_hash"));
    return v;
  }

  private Map<String, float[]> exportedBackbone(ModelVersion v) throws Exception {
    ModelProto exported =
        ModelProto.parseFrom(ServingFixtures.download(channel, v.getModelName(), v.getVersion()));
    return TrainingFixtures.backbone(exported);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"resnet18-kept-opset17.onnx", "mobilenetv2-kept-opset11.onnx"})
  void batchNormKeptExportTrainsWithBothStrategiesAndPassesTheParityGate(String file)
      throws Exception {
    TorchExports.Export export = TorchExports.get(file);
    BaseModel base = importExport(export, RGB32);
    ModelProto imported = OnnxImport.load(export.bytes());
    Map<String, float[]> before = TrainingFixtures.backbone(imported);
    GraphParameters params = GraphParameters.of(GraphSurgery.cut(imported, export.featureTensor()));

    Map<String, float[]> transferred = exportedBackbone(train(base, Strategy.TRANSFER_LEARNING, 0));
    int statistics = 0;
    for (Map.Entry<String, float[]> e : transferred.entrySet()) {
      assertBitIdentical(before.get(e.getKey()), e.getValue(), e.getKey());
      statistics +=
          e.getKey().endsWith("running_mean") || e.getKey().endsWith("running_var") ? 1 : 0;
    }
    long batchNorms =
        imported.getGraph().getNodeList().stream()
            .map(NodeProto::getOpType)
            .filter("BatchNormalization"::equals)
            .count();
    assertEquals(2 * batchNorms, statistics, "every BatchNorm's mean and variance compared");
    if (file.startsWith("resnet18")) {
      assertEquals(40, statistics);
    }

    String last = params.blocks().get(params.blocks().size() - 1);
    if (file.startsWith("resnet18")) {
      assertEquals("layer4.1", last);
    }
    Set<String> lastBlock = new HashSet<>();
    params.all().stream()
        .filter(p -> p.block().equals(last) && p.role() != GraphParameters.Role.CONSTANT)
        .forEach(p -> lastBlock.add(p.name()));
    Map<String, float[]> tuned = exportedBackbone(train(base, Strategy.FINE_TUNING, 1));
    for (Map.Entry<String, float[]> e : tuned.entrySet()) {
      if (lastBlock.contains(e.getKey())) {
        assertFalse(
            TrainingFixtures.maxAbsDiff(before.get(e.getKey()), e.getValue()) == 0,
            e.getKey() + " of the last block did not change");
      } else {
        assertBitIdentical(before.get(e.getKey()), e.getValue(), e.getKey());
      }
    }
    assertTrue(tuned.keySet().containsAll(lastBlock), "the last block is exported");
  }

  /**
   * In the folded export PyTorch routes the zero biases of layer4.1's convolutions from layer4.0's
   * through Identity nodes; untied at import they train with layer4.1.
   */
  @Test
  void foldedExportFineTunesTheBiasesPyTorchAliasedToAnEarlierBlock() throws Exception {
    TorchExports.Export export = TorchExports.get("resnet18-folded-opset13.onnx");
    ModelProto original = ModelProto.parseFrom(export.bytes());
    Set<String> aliased = new HashSet<>();
    for (NodeProto n : original.getGraph().getNodeList()) {
      if (n.getOpType().equals("Identity")) {
        aliased.add(n.getOutput(0));
      }
    }
    Set<String> lastBlock = new HashSet<>();
    for (NodeProto n : original.getGraph().getNodeList()) {
      if (n.getName().startsWith("/layer4/layer4.1/") && n.getOpType().equals("Conv")) {
        lastBlock.add(n.getInput(1));
        lastBlock.add(n.getInput(2));
      }
    }
    assertTrue(
        lastBlock.stream().anyMatch(aliased::contains),
        "PyTorch aliased a layer4.1 bias: " + lastBlock);

    BaseModel base = importExport(export, RGB32);
    Map<String, float[]> before = TrainingFixtures.backbone(OnnxImport.load(export.bytes()));
    Map<String, float[]> tuned = exportedBackbone(train(base, Strategy.FINE_TUNING, 1));
    for (Map.Entry<String, float[]> e : tuned.entrySet()) {
      if (lastBlock.contains(e.getKey())) {
        assertFalse(
            TrainingFixtures.maxAbsDiff(before.get(e.getKey()), e.getValue()) == 0,
            e.getKey() + " of layer4.1 did not change");
      } else {
        assertBitIdentical(before.get(e.getKey()), e.getValue(), e.getKey());
      }
    }
  }

  @Test
  void preprocessingThatDoesNotFitAFixedInputIsRefusedAtImport() {
    TorchExports.Export export = TorchExports.get("mobilenetv2-96.onnx");
    assertStatus(
        Code.INVALID_ARGUMENT,
        "runs would feed examples of 3x64x64 but the model's input 'input' has the fixed shape"
            + " [batch_size, 3, 96, 96]: set the preprocessing's channels, height and width",
        () -> importExport(export, rgb(64, 64)));
  }

  @Test
  void refusalsNameWhatTheClientSentAndNoServerPath() {
    TorchExports.Export export = TorchExports.get("resnet18-kept-opset17.onnx");
    byte[] truncated = java.util.Arrays.copyOf(export.bytes(), 5000);
    StatusRuntimeException e =
        assertStatus(
            Code.INVALID_ARGUMENT,
            "the ONNX file sent for base model '",
            () -> importExport(export, truncated, RGB32));
    String text = e.getStatus().getDescription();
    assertFalse(text.contains("staging") || text.contains(".onnx") || text.contains("/tmp"), text);
  }
}
