package dev.graft.api;

import static dev.graft.support.GraftTest.assertStatus;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.graft.api.kserve.GRPCInferenceServiceGrpc;
import dev.graft.api.kserve.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.graft.api.kserve.InferTensorContents;
import dev.graft.api.kserve.ModelInferRequest;
import dev.graft.api.kserve.ModelInferRequest.InferInputTensor;
import dev.graft.api.kserve.ModelInferResponse;
import dev.graft.api.kserve.ModelMetadataRequest;
import dev.graft.api.kserve.ModelMetadataResponse;
import dev.graft.api.kserve.ModelReadyRequest;
import dev.graft.api.kserve.ModelStatistics;
import dev.graft.api.kserve.ModelStatisticsRequest;
import dev.graft.api.kserve.ModelStreamInferResponse;
import dev.graft.api.kserve.RepositoryIndexRequest;
import dev.graft.api.kserve.RepositoryIndexResponse;
import dev.graft.api.kserve.ServerLiveRequest;
import dev.graft.api.kserve.ServerMetadataRequest;
import dev.graft.api.kserve.ServerMetadataResponse;
import dev.graft.api.kserve.ServerReadyRequest;
import dev.graft.model.ModelVersions;
import dev.graft.serving.ServingFixtures;
import dev.graft.support.GraftTest;
import io.grpc.Status.Code;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
class KServeServiceTest extends GraftTest {

  @Inject ModelVersions versions;
  private GRPCInferenceServiceBlockingStub kserve;

  @BeforeEach
  void stub() {
    kserve = GRPCInferenceServiceGrpc.newBlockingStub(channel);
  }

  private static float[] outputOf(ModelInferResponse r) {
    if (r.getRawOutputContentsCount() > 0) {
      ByteBuffer b =
          r.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      float[] out = new float[b.remaining() / 4];
      b.asFloatBuffer().get(out);
      return out;
    }
    float[] out = new float[r.getOutputs(0).getContents().getFp32ContentsCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = r.getOutputs(0).getContents().getFp32Contents(i);
    }
    return out;
  }

  private static InferInputTensor.Builder tensor(String name, String type, long... shape) {
    InferInputTensor.Builder t = InferInputTensor.newBuilder().setName(name).setDatatype(type);
    for (long d : shape) {
      t.addShape(d);
    }
    return t;
  }

  @Test
  void serverAndModelMetadataDescribeTheServedModel() {
    String name = ServingFixtures.unique("cnn");
    ServingFixtures.registerCnn(versions, name, 1);
    ServingFixtures.registerCnn(versions, name, 2);

    assertTrue(kserve.serverLive(ServerLiveRequest.getDefaultInstance()).getLive());
    assertTrue(kserve.serverReady(ServerReadyRequest.getDefaultInstance()).getReady());
    ServerMetadataResponse server =
        kserve.serverMetadata(ServerMetadataRequest.getDefaultInstance());
    assertEquals("graft", server.getName());
    // Only extension names; no model_repository: RepositoryModelLoad/Unload are not offered.
    assertEquals(List.of("statistics"), server.getExtensionsList());

    ModelMetadataResponse m =
        kserve.modelMetadata(ModelMetadataRequest.newBuilder().setName(name).build());
    assertEquals(name, m.getName());
    assertEquals(List.of("1", "2"), m.getVersionsList());
    assertEquals("onnxruntime_onnx", m.getPlatform());
    assertEquals("input", m.getInputs(0).getName());
    assertEquals("FP32", m.getInputs(0).getDatatype());
    assertEquals(List.of(-1L, 1L, 28L, 28L), m.getInputs(0).getShapeList());
    assertEquals("logits", m.getOutputs(0).getName());
    assertEquals(List.of(-1L, 10L), m.getOutputs(0).getShapeList());

    assertTrue(
        kserve
            .modelReady(ModelReadyRequest.newBuilder().setName(name).setVersion("1").build())
            .getReady());
    assertFalse(
        kserve.modelReady(ModelReadyRequest.newBuilder().setName("absent").build()).getReady());
    assertStatus(
        Code.NOT_FOUND,
        "model 'absent' does not exist",
        () -> kserve.modelMetadata(ModelMetadataRequest.newBuilder().setName("absent").build()));

    RepositoryIndexResponse index =
        kserve.repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build());
    assertTrue(
        index.getModelsList().stream()
            .anyMatch(
                i ->
                    i.getName().equals(name)
                        && i.getVersion().equals("1")
                        && i.getState().equals("READY")));
  }

  @Test
  void modelInferWithTypedAndRawContentsEqualsOnnxRuntime() throws Exception {
    String name = ServingFixtures.unique("cnn");
    ServingFixtures.registerCnn(versions, name, 6);
    byte[] onnx = ServingFixtures.download(channel, name, 1);
    Random random = new Random(2);
    float[] x = ServingFixtures.features(random, 2 * 784);
    float[] expected = ServingFixtures.ortLogits(onnx, x, 2, 1, 28, 28);

    InferTensorContents.Builder typed = InferTensorContents.newBuilder();
    for (float v : x) {
      typed.addFp32Contents(v);
    }
    ModelInferResponse r =
        kserve.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName(name)
                .setId("typed-1")
                .addInputs(tensor("input", "FP32", 2, 1, 28, 28).setContents(typed))
                .build());
    assertEquals("typed-1", r.getId());
    assertEquals(name, r.getModelName());
    assertEquals("1", r.getModelVersion());
    assertEquals("logits", r.getOutputs(0).getName());
    assertEquals("FP32", r.getOutputs(0).getDatatype());
    assertEquals(List.of(2L, 10L), r.getOutputs(0).getShapeList());
    assertArrayEquals(expected, outputOf(r), 1e-6f);

    ByteBuffer raw = ByteBuffer.allocate(x.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    raw.asFloatBuffer().put(x);
    ModelInferResponse rr =
        kserve.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName(name)
                .setModelVersion("1")
                .addInputs(tensor("input", "FP32", 2, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(raw.array()))
                .build());
    assertEquals(1, rr.getRawOutputContentsCount());
    assertArrayEquals(expected, outputOf(rr), 1e-6f);
  }

  @Test
  void integerTensorsAreConvertedToTheModelsFloatInput() throws Exception {
    String name = ServingFixtures.unique("mlp");
    ServingFixtures.registerMlp(versions, name, 3, Map.of());
    byte[] onnx = ServingFixtures.download(channel, name, 1);
    float[] x = {0, 1, 2, 3, 200, 255, 7, 9};
    float[] expected = ServingFixtures.ortLogits(onnx, x, 1, 8);

    byte[] uint8 = new byte[8];
    for (int i = 0; i < 8; i++) {
      uint8[i] = (byte) x[i];
    }
    ModelInferResponse u =
        kserve.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName(name)
                .addInputs(tensor("input", "UINT8", 1, 8))
                .addRawInputContents(ByteString.copyFrom(uint8))
                .build());
    assertArrayEquals(expected, outputOf(u), 1e-6f);

    InferTensorContents.Builder longs = InferTensorContents.newBuilder();
    for (float v : x) {
      longs.addInt64Contents((long) v);
    }
    ModelInferResponse l =
        kserve.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName(name)
                .addInputs(tensor("input", "INT64", 1, 8).setContents(longs))
                .build());
    assertArrayEquals(expected, outputOf(l), 1e-6f);

    InferTensorContents.Builder uints = InferTensorContents.newBuilder();
    for (float v : x) {
      uints.addUintContents((int) v);
    }
    ModelInferResponse t =
        kserve.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName(name)
                .addInputs(tensor("input", "UINT8", 1, 8).setContents(uints))
                .build());
    assertArrayEquals(expected, outputOf(t), 1e-6f);
  }

  @Test
  void wrongNameShapeTypeOrSizeIsInvalidArgumentNamingWhatIsExpected() {
    String name = ServingFixtures.unique("mlp");
    ServingFixtures.registerMlp(versions, name, 3, Map.of());
    InferTensorContents eight =
        InferTensorContents.newBuilder()
            .addAllFp32Contents(List.of(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f))
            .build();
    assertStatus(
        Code.INVALID_ARGUMENT,
        "unknown input 'x'; model '" + name + "' version 1 expects one input named 'input'",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("x", "FP32", 1, 8).setContents(eight))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "expects [-1, 8]",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 2, 4).setContents(eight))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "datatype 'BYTES'; the model takes FP32",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "BYTES", 1, 8).setContents(eight))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "needs 16 FP32 values in contents, got 8",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 2, 8).setContents(eight))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "has 3 bytes; shape [1, 8] of FP32 needs 32",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 1, 8))
                    .addRawInputContents(ByteString.copyFrom(new byte[3]))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "unknown output 'probs'",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 1, 8).setContents(eight))
                    .addOutputs(
                        ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("probs"))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "has shape [4611686018427387904, 1, 28, 28], more than",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 1L << 62, 1, 28, 28))
                    .addRawInputContents(ByteString.copyFrom(new byte[4]))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "has shape [4611686018427387904, 1, 28, 28], more than",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 1L << 62, 1, 28, 28).setContents(eight))
                    .build()));
    InferTensorContents withNaN =
        InferTensorContents.newBuilder()
            .addAllFp32Contents(List.of(1f, 2f, 3f, Float.NaN, 5f, 6f, 7f, 8f))
            .build();
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 'input' has NaN at value 3; inputs must be finite",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 1, 8).setContents(withNaN))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "input 'input' has Infinity at value 0",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(
                        tensor("input", "FP64", 1, 8)
                            .setContents(
                                InferTensorContents.newBuilder()
                                    .addAllFp64Contents(
                                        List.of(1e300, 2d, 3d, 4d, 5d, 6d, 7d, 8d))))
                    .build()));
    assertStatus(
        Code.NOT_FOUND,
        "version 3 of model",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .setModelVersion("3")
                    .addInputs(tensor("input", "FP32", 1, 8).setContents(eight))
                    .build()));
  }

  @Test
  void anUnknownOutputOrAWrongContentsCountIsRefusedBeforeRunningAndCountedAsAFailure() {
    String name = ServingFixtures.unique("mlp");
    ServingFixtures.registerMlp(versions, name, 4, Map.of());
    InferTensorContents eight =
        InferTensorContents.newBuilder()
            .addAllFp32Contents(List.of(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f))
            .build();
    ModelInferResponse ok =
        kserve.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName(name)
                .addInputs(tensor("input", "FP32", 1, 8).setContents(eight))
                .build());
    assertEquals("CPU", ok.getParametersOrThrow("execution_provider").getStringParam());
    assertStatus(
        Code.INVALID_ARGUMENT,
        "unknown output 'probs'; model '" + name + "' version 1 has one output named",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 1, 8).setContents(eight))
                    .addOutputs(
                        ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("probs"))
                    .build()));
    assertStatus(
        Code.INVALID_ARGUMENT,
        "needs 16 FP32 values in contents, got 8",
        () ->
            kserve.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName(name)
                    .addInputs(tensor("input", "FP32", 2, 8).setContents(eight))
                    .build()));
    ModelStatistics s =
        kserve
            .modelStatistics(
                ModelStatisticsRequest.newBuilder().setName(name).setVersion("1").build())
            .getModelStats(0);
    assertEquals(1, s.getInferenceCount()); // the refused ones never ran
    assertEquals(1, s.getExecutionCount());
    assertEquals(1, s.getInferenceStats().getSuccess().getCount());
    assertEquals(2, s.getInferenceStats().getFail().getCount());
  }

  @Test
  void streamInferAnswersInOrderAndStatisticsCountEveryRequest() throws Exception {
    String name = ServingFixtures.unique("mlp");
    ServingFixtures.registerMlp(versions, name, 8, Map.of());
    List<ModelStreamInferResponse> got = java.util.Collections.synchronizedList(new ArrayList<>());
    CountDownLatch done = new CountDownLatch(1);
    StreamObserver<ModelInferRequest> out =
        GRPCInferenceServiceGrpc.newStub(channel)
            .modelStreamInfer(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ModelStreamInferResponse r) {
                    got.add(r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.countDown();
                  }

                  @Override
                  public void onCompleted() {
                    done.countDown();
                  }
                });
    for (int i = 0; i < 50; i++) {
      InferTensorContents.Builder c = InferTensorContents.newBuilder();
      for (int j = 0; j < (i == 25 ? 7 : 8); j++) {
        c.addFp32Contents(i + j);
      }
      out.onNext(
          ModelInferRequest.newBuilder()
              .setModelName(name)
              .setId("r" + i)
              .addInputs(tensor("input", "FP32", 1, i == 25 ? 7 : 8).setContents(c))
              .build());
    }
    out.onCompleted();
    assertTrue(done.await(30, TimeUnit.SECONDS));
    assertEquals(50, got.size());
    for (int i = 0; i < 50; i++) {
      assertEquals("r" + i, got.get(i).getInferResponse().getId());
      assertEquals(i == 25, !got.get(i).getErrorMessage().isEmpty(), got.get(i).getErrorMessage());
    }
    assertTrue(got.get(25).getErrorMessage().contains("INVALID_ARGUMENT"));

    ModelStatistics s =
        kserve
            .modelStatistics(
                ModelStatisticsRequest.newBuilder().setName(name).setVersion("1").build())
            .getModelStats(0);
    assertEquals(name, s.getName());
    assertEquals("1", s.getVersion());
    assertEquals(49, s.getInferenceCount());
    assertEquals(49, s.getInferenceStats().getSuccess().getCount());
    assertEquals(1, s.getInferenceStats().getFail().getCount());
    assertEquals(49, s.getInferenceStats().getQueue().getCount());
    assertEquals(
        s.getExecutionCount(),
        s.getBatchStatsList().stream().mapToLong(b -> b.getComputeInfer().getCount()).sum());
    assertTrue(s.getInferenceStats().getComputeInfer().getNs() > 0);
    assertTrue(s.getLastInference() > 0);
  }
}
