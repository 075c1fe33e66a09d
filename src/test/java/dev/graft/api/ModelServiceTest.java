package dev.graft.api;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.DownloadModelVersionResponse;
import dev.graft.api.v1.GetModelVersionRequest;
import dev.graft.api.v1.ListModelVersionsRequest;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.ModelServiceGrpc.ModelServiceBlockingStub;
import dev.graft.api.v1.ModelVersion;
import dev.graft.api.v1.SetModelAliasRequest;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.serving.ServingFixtures;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
class ModelServiceTest extends GraftTest {

  @Inject ModelVersions versions;
  private ModelServiceBlockingStub models;

  @BeforeEach
  void stub() {
    models = ModelServiceGrpc.newBlockingStub(channel);
  }

  private static ModelRef ref(String name, int version) {
    return ModelRef.newBuilder().setName(name).setVersion(version).build();
  }

  @Test
  void registeredVersionsAreNumberedListedAndDescribed() {
    String name = ServingFixtures.unique("mlp");
    ServingFixtures.registerMlp(versions, name, 1, Map.of());
    ModelVersionInfo second = ServingFixtures.registerMlp(versions, name, 2, Map.of());
    assertEquals(2, second.version());

    List<ModelVersion> listed =
        models
            .listModelVersions(ListModelVersionsRequest.newBuilder().setModelName(name).build())
            .getVersionsList();
    assertEquals(List.of(1, 2), listed.stream().map(ModelVersion::getVersion).toList());
    assertEquals(List.of(), listed.get(0).getAliasesList());
    assertEquals(List.of("latest"), listed.get(1).getAliasesList());

    ModelVersion latest =
        models.getModelVersion(
            GetModelVersionRequest.newBuilder()
                .setModel(ModelRef.newBuilder().setName(name))
                .build());
    assertEquals(2, latest.getVersion());
    assertEquals(List.of("cat", "dog", "bird"), latest.getLabelsList());
    assertEquals(1.5e-6, latest.getParityMaxAbsDiff());
    assertEquals(second.sha256(), latest.getSha256());
    assertEquals(64, latest.getSha256().length());
    assertFalse(latest.hasRunId());
    assertEquals("TEST", latest.getMetadataOrThrow("graft.run.strategy"));
    assertEquals("input", latest.getInputSpec().getFieldsOrThrow("name").getStringValue());
    assertEquals(
        8.0,
        latest
            .getInputSpec()
            .getFieldsOrThrow("shape")
            .getListValue()
            .getValues(1)
            .getNumberValue());
    assertTrue(latest.getSizeBytes() > 0);
    assertTrue(latest.getCreateTime().getSeconds() > 0);

    assertEquals(
        0,
        models
            .listModelVersions(ListModelVersionsRequest.newBuilder().setRunId(987654).build())
            .getVersionsCount());
  }

  @Test
  void downloadStreamsTheExactFileThenItsSha256() throws Exception {
    String name = ServingFixtures.unique("cnn");
    ModelVersionInfo v = ServingFixtures.registerCnn(versions, name, 3);
    Iterator<DownloadModelVersionResponse> it =
        models.downloadModelVersion(
            DownloadModelVersionRequest.newBuilder()
                .setModel(ref(name, 1))
                .setChunkSize(4096)
                .build());
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    List<DownloadModelVersionResponse> messages = new ArrayList<>();
    it.forEachRemaining(messages::add);
    for (DownloadModelVersionResponse m : messages.subList(0, messages.size() - 1)) {
      assertTrue(m.hasChunk());
      assertTrue(m.getChunk().size() <= 4096);
      m.getChunk().writeTo(bytes);
    }
    DownloadModelVersionResponse last = messages.get(messages.size() - 1);
    assertEquals(v.sha256(), last.getSha256());
    assertTrue(messages.size() > 3, "several chunks: " + messages.size());
    byte[] file = bytes.toByteArray();
    assertEquals(last.getSizeBytes(), file.length);
    assertArrayEquals(Files.readAllBytes(v.onnxPath()), file);
    assertEquals(
        v.sha256(), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file)));
  }

  @Test
  void aliasesMoveAndResolve() {
    String name = ServingFixtures.unique("alias");
    ServingFixtures.registerMlp(versions, name, 1, Map.of());
    ServingFixtures.registerMlp(versions, name, 2, Map.of());
    ModelVersion moved =
        models.setModelAlias(
            SetModelAliasRequest.newBuilder()
                .setModelName(name)
                .setAlias("champion")
                .setVersion(1)
                .build());
    assertEquals(List.of("champion"), moved.getAliasesList());
    ModelVersion champion =
        models.getModelVersion(
            GetModelVersionRequest.newBuilder()
                .setModel(ModelRef.newBuilder().setName(name).setAlias("champion"))
                .build());
    assertEquals(1, champion.getVersion());
  }

  @Test
  void unknownModelsVersionsAndAliasesAreNotFoundAndBadArgumentsInvalid() {
    String name = ServingFixtures.unique("nf");
    ServingFixtures.registerMlp(versions, name, 1, Map.of());
    assertStatus(
        Code.NOT_FOUND,
        "model 'no-such-model' does not exist",
        () ->
            models.getModelVersion(
                GetModelVersionRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName("no-such-model"))
                    .build()));
    assertStatus(
        Code.NOT_FOUND,
        "version 7 of model '" + name + "' does not exist",
        () ->
            models.getModelVersion(
                GetModelVersionRequest.newBuilder().setModel(ref(name, 7)).build()));
    assertStatus(
        Code.NOT_FOUND,
        "alias 'gold' of model '" + name + "' does not exist",
        () ->
            models.getModelVersion(
                GetModelVersionRequest.newBuilder()
                    .setModel(ModelRef.newBuilder().setName(name).setAlias("gold"))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "not starting with a digit",
        () ->
            models.setModelAlias(
                SetModelAliasRequest.newBuilder()
                    .setModelName(name)
                    .setAlias("2nd")
                    .setVersion(1)
                    .build()));
    assertStatus(
        Code.NOT_FOUND,
        "version 9 of model",
        () ->
            models.setModelAlias(
                SetModelAliasRequest.newBuilder()
                    .setModelName(name)
                    .setAlias("best")
                    .setVersion(9)
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "set model_name or run_id",
        () -> models.listModelVersions(ListModelVersionsRequest.getDefaultInstance()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "chunk_size",
        () ->
            models
                .downloadModelVersion(
                    DownloadModelVersionRequest.newBuilder()
                        .setModel(ref(name, 1))
                        .setChunkSize(10)
                        .build())
                .hasNext());
  }
}
