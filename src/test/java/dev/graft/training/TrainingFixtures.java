package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.DownloadModelVersionResponse;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.GetBaseModelRequest;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.MetricValue;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.onnx.OnnxTensors;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * What the training tests share inside one Quarkus application: small synthetic datasets, one
 * pre-trained cnn-small base model (trained once per JVM), and waiting for runs through gRPC.
 */
final class TrainingFixtures {

  /** The base model every strategy test grafts onto: cnn-small pre-trained on four shapes. */
  static final String BASE = "fixture-base";

  /** A small target task of four other shapes (120 examples). */
  static final String TARGET = "fixture-target";

  /** A larger task (8 shapes, 1,200 examples) for runs that must last many batches. */
  static final String LARGE = "fixture-large";

  private TrainingFixtures() {}

  static long experiment(Channel channel, String prefix) {
    return ExperimentServiceGrpc.newBlockingStub(channel)
        .createExperiment(
            CreateExperimentRequest.newBuilder()
                .setName(prefix + "-" + UUID.randomUUID().toString().substring(0, 8))
                .build())
        .getId();
  }

  /** Registers a synthetic dataset unless one of that name exists already. */
  static void synthetic(
      Channel channel, String name, List<String> shapes, int perClass, long seed) {
    try {
      DatasetServiceGrpc.newBlockingStub(channel)
          .registerDataset(
              RegisterDatasetRequest.newBuilder()
                  .setName(name)
                  .setSource(DatasetSource.DATASET_SOURCE_SYNTHETIC)
                  .addAllClassNames(shapes)
                  .setExamplesPerClass(perClass)
                  .setSeed(seed)
                  .build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.ALREADY_EXISTS) {
        throw e;
      }
    }
  }

  static void targetData(Channel channel) {
    synthetic(channel, TARGET, List.of("ring", "bar", "half_disk", "frame"), 30, 21);
  }

  static void largeData(Channel channel) {
    synthetic(channel, LARGE, List.of(), 150, 22);
  }

  /**
   * Pre-trains {@link #BASE} through ModelService.PretrainBaseModel, once per application (the test
   * classes of one JVM share it).
   */
  static synchronized void baseModel(Channel channel) throws InterruptedException {
    var models = ModelServiceGrpc.newBlockingStub(channel);
    try {
      models.getBaseModel(GetBaseModelRequest.newBuilder().setName(BASE).build());
      return;
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
        throw e;
      }
    }
    synthetic(channel, "fixture-source", List.of("circle", "square", "triangle", "cross"), 100, 20);
    Run pretraining =
        models.pretrainBaseModel(
            PretrainBaseModelRequest.newBuilder()
                .setName(BASE)
                .setArchitecture("cnn-small")
                .setDataset("fixture-source")
                .setExperimentId(experiment(channel, "fixture"))
                .setHyperParameters(
                    HyperParameters.newBuilder()
                        .setEpochs(3)
                        .setBatchSize(32)
                        .setLearningRate(0.003))
                .setSplit(SplitSpec.newBuilder().setValidationFraction(0.1).setTestFraction(0.1))
                .setSeed(5)
                .setDevice(dev.graft.api.v1.Device.CPU)
                .build());
    Run done = awaitEnd(channel, pretraining.getId(), Duration.ofMinutes(3));
    assertEquals(dev.graft.api.v1.RunStatus.SUCCEEDED, done.getStatus(), done.getError());
  }

  /** A small run request on {@link #TARGET}: 2 epochs, batch 16, CPU. */
  static StartRunRequest.Builder small(long experiment, Strategy strategy) {
    return StartRunRequest.newBuilder()
        .setExperimentId(experiment)
        .setBaseModel(BASE)
        .setDataset(TARGET)
        .setStrategy(strategy)
        .setHyperParameters(HyperParameters.newBuilder().setEpochs(2).setBatchSize(16))
        .setSplit(SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2))
        .setSeed(3)
        .setDevice(dev.graft.api.v1.Device.CPU);
  }

  static Run awaitEnd(Channel channel, long runId, Duration timeout) throws InterruptedException {
    var training = TrainingServiceGrpc.newBlockingStub(channel);
    Instant deadline = Instant.now().plus(timeout);
    while (Instant.now().isBefore(deadline)) {
      Run run = training.getRun(GetRunRequest.newBuilder().setRunId(runId).build());
      switch (run.getStatus()) {
        case QUEUED, RUNNING -> Thread.sleep(100);
        default -> {
          return run;
        }
      }
    }
    throw new AssertionError("run " + runId + " did not end within " + timeout);
  }

  /** The run's last validation accuracy. */
  static double valAccuracy(Run run) {
    return run.getMetricsList().stream()
        .filter(m -> m.getKey().equals("val_accuracy"))
        .mapToDouble(MetricValue::getValue)
        .reduce((a, b) -> b)
        .orElseThrow();
  }

  /** The bytes DownloadModelVersion streams for a request, its chunks joined. */
  static ByteString download(Channel channel, DownloadModelVersionRequest request) {
    Iterator<DownloadModelVersionResponse> chunks =
        ModelServiceGrpc.newBlockingStub(channel).downloadModelVersion(request);
    ByteString.Output bytes = ByteString.newOutput();
    while (chunks.hasNext()) {
      DownloadModelVersionResponse r = chunks.next();
      if (r.hasChunk()) {
        try {
          r.getChunk().writeTo(bytes);
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    }
    return bytes.toByteString();
  }

  /** Every event of a run, from the start of WatchRun to the end of the stream. */
  static List<RunEvent> watchAll(Channel channel, long runId) {
    List<RunEvent> events = new ArrayList<>();
    TrainingServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(4, TimeUnit.MINUTES)
        .watchRun(WatchRunRequest.newBuilder().setRunId(runId).build())
        .forEachRemaining(events::add);
    return events;
  }

  /** The metrics of every epoch that do not measure time, by epoch, then key. */
  static Map<Integer, Map<String, Double>> untimedMetrics(Run run) {
    Map<Integer, Map<String, Double>> out = new LinkedHashMap<>();
    run.getMetricsList().stream()
        .filter(m -> !m.getKey().equals("epoch_seconds"))
        .filter(m -> !m.getKey().equals("examples_per_second"))
        .forEach(
            m ->
                out.computeIfAbsent(m.getEpoch(), e -> new LinkedHashMap<>())
                    .put(m.getKey(), m.getValue()));
    return out;
  }

  /** Backbone initializers (all but {@code head.*}) by name. */
  static Map<String, float[]> backbone(ModelProto model) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (TensorProto t : model.getGraph().getInitializerList()) {
      if (!t.getName().startsWith("head.") && t.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
        out.put(t.getName(), OnnxTensors.floats(t));
      }
    }
    return out;
  }

  static void assertBitIdentical(float[] expected, float[] actual, String what) {
    org.junit.jupiter.api.Assertions.assertNotNull(actual, what + " is missing");
    org.junit.jupiter.api.Assertions.assertArrayEquals(
        TrainingFlowTest.bits(expected), TrainingFlowTest.bits(actual), what);
  }

  static double maxAbsDiff(float[] a, float[] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs((double) a[i] - b[i]));
    }
    return max;
  }
}
