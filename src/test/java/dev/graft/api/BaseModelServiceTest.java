package dev.graft.api;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.graft.api.v1.BaseModel;
import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.GetBaseModelRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ImagePreprocessing;
import dev.graft.api.v1.ImportBaseModelHeader;
import dev.graft.api.v1.ListBaseModelsRequest;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.core.StorageConfig;
import dev.graft.model.Architectures;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Base models through gRPC: import (checked by the model core), list, get, pre-train. */
@QuarkusTest
class BaseModelServiceTest extends GraftTest {

  @Inject StorageConfig storage;

  private static ImagePreprocessing gray28() {
    return ImagePreprocessing.newBuilder()
        .setChannels(1)
        .setHeight(28)
        .setWidth(28)
        .setScale(1f / 255)
        .addMean(0.5f)
        .addStd(0.5f)
        .build();
  }

  private BaseModel importModel(ImportBaseModelHeader header, byte[] onnx) throws Exception {
    return ImportTestSupport.importModel(channel, header, onnx);
  }

  private long filesUnder(String area) throws Exception {
    var dir = storage.area(area);
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<java.nio.file.Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).count();
    }
  }

  @Test
  void importedModelIsCheckedStoredListedAndRefusedTwice() throws Exception {
    byte[] onnx = Architectures.get("cnn-small").classifier(10, 3).toByteArray();
    ImportBaseModelHeader header =
        ImportBaseModelHeader.newBuilder()
            .setName("imported-cnn")
            .setFeatureTensor("features")
            .setPreprocessing(gray28())
            .addClassNames("a")
            .build();

    BaseModel imported = importModel(header, onnx);

    assertEquals("IMPORTED", imported.getSource());
    assertEquals("onnx", imported.getArchitecture());
    assertEquals(64, imported.getSha256().length());
    assertEquals(1, imported.getPreprocessing().getChannels());
    assertEquals(
        "[64]",
        imported
            .getInputSpec()
            .getFieldsOrThrow("featureShape")
            .getListValue()
            .getValuesList()
            .stream()
            .map(v -> String.valueOf((long) v.getNumberValue()))
            .toList()
            .toString());
    var models = ModelServiceGrpc.newBlockingStub(channel);
    assertEquals(
        imported,
        models.getBaseModel(GetBaseModelRequest.newBuilder().setName("imported-cnn").build()));
    assertTrue(
        models
            .listBaseModels(ListBaseModelsRequest.getDefaultInstance())
            .getBaseModelsList()
            .stream()
            .anyMatch(b -> b.getName().equals("imported-cnn")));
    assertStatus(
        Code.ALREADY_EXISTS, "'imported-cnn' already exists", () -> importModel(header, onnx));
  }

  @Test
  void badImportsGetTheirStatusAndStoreNothing() throws Exception {
    long before = filesUnder("base-models");
    ModelProto good = Architectures.get("cnn-small").classifier(10, 3);
    ModelProto unsupported =
        good.toBuilder()
            .setGraph(
                good.getGraph().toBuilder()
                    .addNode(
                        NodeProto.newBuilder()
                            .setName("nms_1")
                            .setOpType("NonMaxSuppression")
                            .addInput("logits")
                            .addOutput("boxes")))
            .build();
    ImportBaseModelHeader.Builder header =
        ImportBaseModelHeader.newBuilder()
            .setName("bad")
            .setFeatureTensor("features")
            .setPreprocessing(gray28());

    assertStatus(
        Code.INVALID_ARGUMENT,
        "unsupported ONNX operator 'NonMaxSuppression' at node 'nms_1'",
        () -> importModel(header.build(), unsupported.toByteArray()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "no_such_tensor",
        () ->
            importModel(
                header.clone().setFeatureTensor("no_such_tensor").build(), good.toByteArray()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "needs preprocessing",
        () -> importModel(header.clone().clearPreprocessing().build(), good.toByteArray()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "std must be > 0",
        () ->
            importModel(
                header.clone().setPreprocessing(gray28().toBuilder().setStd(0, 0f)).build(),
                good.toByteArray()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "first message must be the header",
        () -> importModel(null, good.toByteArray()));
    assertStatus(
        Code.INVALID_ARGUMENT, "", () -> importModel(header.build(), new byte[] {1, 2, 3}));
    assertStatus(
        Code.NOT_FOUND,
        "base model 'bad' does not exist",
        () ->
            ModelServiceGrpc.newBlockingStub(channel)
                .getBaseModel(GetBaseModelRequest.newBuilder().setName("bad").build()));
    assertEquals(before, filesUnder("base-models"));
    assertEquals(0, filesUnder("staging"));
  }

  @Test
  void pretrainingThroughGrpcRegistersABaseModelWithItsMetrics() {
    long experiment =
        ExperimentServiceGrpc.newBlockingStub(channel)
            .createExperiment(CreateExperimentRequest.newBuilder().setName("pretrain-rpc").build())
            .getId();
    DatasetServiceGrpc.newBlockingStub(channel)
        .registerDataset(
            RegisterDatasetRequest.newBuilder()
                .setName("pretrain-rpc-shapes")
                .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                .addClassNames("circle")
                .addClassNames("cross")
                .setExamplesPerClass(40)
                .setSeed(5)
                .build());
    var models = ModelServiceGrpc.newBlockingStub(channel);
    Run run =
        models.pretrainBaseModel(
            PretrainBaseModelRequest.newBuilder()
                .setName("mlp-shapes")
                .setArchitecture("mlp")
                .setDataset("pretrain-rpc-shapes")
                .setExperimentId(experiment)
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(2).setBatchSize(16))
                .build());
    List<RunEvent> events = new ArrayList<>();
    TrainingServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(3, TimeUnit.MINUTES)
        .watchRun(WatchRunRequest.newBuilder().setRunId(run.getId()).build())
        .forEachRemaining(events::add);
    assertEquals(
        RunStatus.SUCCEEDED,
        events.get(events.size() - 1).getStatus().getStatus(),
        events.toString());

    BaseModel base =
        models.getBaseModel(GetBaseModelRequest.newBuilder().setName("mlp-shapes").build());
    assertEquals("PRETRAINED", base.getSource());
    assertEquals("mlp", base.getArchitecture());
    assertEquals(run.getId(), base.getPretrainRunId());
    assertEquals(List.of("circle", "cross"), base.getClassNamesList());
    assertTrue(base.getMetricsMap().containsKey("test_accuracy"), base.toString());
    assertFalse(base.getSha256().isEmpty());
    assertStatus(
        Code.ALREADY_EXISTS,
        "'mlp-shapes' already exists",
        () ->
            models.pretrainBaseModel(
                PretrainBaseModelRequest.newBuilder()
                    .setName("mlp-shapes")
                    .setArchitecture("mlp")
                    .setDataset("pretrain-rpc-shapes")
                    .setExperimentId(experiment)
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "unknown",
        () ->
            models.pretrainBaseModel(
                PretrainBaseModelRequest.newBuilder()
                    .setName("x")
                    .setArchitecture("vgg-huge")
                    .setDataset("pretrain-rpc-shapes")
                    .setExperimentId(experiment)
                    .build()));
  }
}
