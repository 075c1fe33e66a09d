package dev.graft.training;

import static dev.graft.training.TrainingFixtures.assertBitIdentical;
import static dev.graft.training.TrainingFixtures.awaitEnd;
import static dev.graft.training.TrainingFixtures.backbone;
import static dev.graft.training.TrainingFixtures.maxAbsDiff;
import static dev.graft.training.TrainingFixtures.small;
import static dev.graft.training.TrainingFixtures.watchAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.api.v1.FreezeSpec;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunEvent;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.api.v1.WatchRunRequest;
import dev.graft.core.StorageConfig;
import dev.graft.model.BaseModels;
import dev.graft.model.ModelRef;
import dev.graft.model.ModelVersions;
import dev.graft.onnx.OnnxImport;
import dev.graft.support.GraftTest;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The four strategies end to end on small synthetic data, judged on the weights they leave, and
 * WatchRun's guarantees: history first for late watchers, many watchers, end of stream.
 */
@QuarkusTest
class StrategiesTest extends GraftTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Inject BaseModels baseModels;
  @Inject ModelVersions versions;
  @Inject RunEventHub hub;
  @Inject StorageConfig storage;

  private TrainingServiceGrpc.TrainingServiceBlockingStub training;
  private long experiment;
  private Map<String, float[]> base;

  @BeforeEach
  void setUp() throws InterruptedException {
    training = TrainingServiceGrpc.newBlockingStub(channel);
    TrainingFixtures.targetData(channel);
    TrainingFixtures.baseModel(channel);
    experiment = TrainingFixtures.experiment(channel, "strategies");
    base = backbone(OnnxImport.load(baseModels.file(TrainingFixtures.BASE)));
  }

  private Run runToEnd(dev.graft.api.v1.StartRunRequest request) throws InterruptedException {
    Run done = awaitEnd(channel, training.startRun(request).getId(), Duration.ofMinutes(2));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    assertFalse(done.getFeatureCache(), "only a frozen backbone uses the feature cache");
    return done;
  }

  private Map<String, float[]> exportedBackbone(Run run) {
    String name = run.getModelVersion().split(":")[0];
    return backbone(OnnxImport.load(versions.resolve(ModelRef.latest(name)).onnxPath()));
  }

  @Test
  void fineTuningAllBlocksChangesTheBackbone() throws InterruptedException {
    Run done = runToEnd(small(experiment, Strategy.FINE_TUNING).setModelName("ft-all").build());
    assertEquals(done.getTotalParameters(), done.getTrainableParameters());
    Map<String, float[]> tuned = exportedBackbone(done);
    assertEquals(base.keySet(), tuned.keySet());
    for (String conv : List.of("features.0.conv", "features.1.conv", "features.2.conv")) {
      String weight = weightOf(conv);
      assertTrue(
          maxAbsDiff(base.get(weight), tuned.get(weight)) > 0, weight + " did not train at all");
    }
  }

  @Test
  void fineTuningLastBlockKeepsTheEarlierBlocks() throws InterruptedException {
    Run done =
        runToEnd(
            small(experiment, Strategy.FINE_TUNING)
                .setFreeze(FreezeSpec.newBuilder().setTrainLastBlocks(1))
                .setModelName("ft-last1")
                .build());
    assertTrue(done.getTrainableParameters() < done.getTotalParameters());
    Map<String, float[]> tuned = exportedBackbone(done);
    int frozen = 0;
    for (Map.Entry<String, float[]> e : base.entrySet()) {
      if (e.getKey().startsWith("features.0.") || e.getKey().startsWith("features.1.")) {
        assertBitIdentical(e.getValue(), tuned.get(e.getKey()), e.getKey());
        frozen++;
      }
    }
    assertTrue(frozen >= 2, "compared " + frozen + " initializers of frozen blocks");
    String last = weightOf("features.2.conv");
    assertTrue(maxAbsDiff(base.get(last), tuned.get(last)) > 0, last + " did not train");
  }

  /**
   * GRADUAL's head-only epoch leaves the backbone bit-identical (BatchNorm statistics included):
   * the checkpoint is read at the first progress event of epoch 2, when epoch 1's checkpoint is
   * written and epoch 2's is not (the hub calls an in-process watcher on the training thread).
   * After the unfrozen epoch it differs.
   */
  @Test
  void gradualKeepsTheBackboneDuringTheHeadEpochs() throws Exception {
    Run started =
        training.startRun(
            small(experiment, Strategy.GRADUAL)
                .setHyperParameters(
                    HyperParameters.newBuilder().setEpochs(2).setHeadEpochs(1).setBatchSize(16))
                .setModelName("gradual")
                .build());
    Path checkpoint =
        storage.area("runs").resolve(String.valueOf(started.getId())).resolve("checkpoint");
    AtomicReference<ModelProto> afterHeadEpoch = new AtomicReference<>();
    AtomicReference<Integer> epochsDone = new AtomicReference<>();
    hub.watch(started.getId(), List::of)
        .subscribe()
        .with(
            e -> {
              if (e instanceof dev.graft.training.RunEvent.Progress p
                  && p.epoch() == 2
                  && afterHeadEpoch.get() == null) {
                try {
                  epochsDone.set(
                      JSON.readTree(checkpoint.resolve("state.json").toFile())
                          .get("epochsDone")
                          .asInt());
                  afterHeadEpoch.set(OnnxImport.load(checkpoint.resolve("model.onnx")));
                } catch (java.io.IOException x) {
                  throw new java.io.UncheckedIOException(x);
                }
              }
            });
    Run done = awaitEnd(channel, started.getId(), Duration.ofMinutes(2));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    assertNotNull(afterHeadEpoch.get(), "no checkpoint was read after epoch 1");
    assertEquals(1, epochsDone.get(), "the checkpoint read was not epoch 1's");
    Map<String, float[]> headPhase = backbone(afterHeadEpoch.get());
    for (Map.Entry<String, float[]> e : base.entrySet()) {
      assertBitIdentical(e.getValue(), headPhase.get(e.getKey()), e.getKey() + " after epoch 1");
    }
    Map<String, float[]> tuned = exportedBackbone(done);
    String first = weightOf("features.0.conv");
    assertTrue(maxAbsDiff(base.get(first), tuned.get(first)) > 0, "epoch 2 trained the backbone");
  }

  /**
   * From scratch starts from random weights: with a learning rate too small to move anything, the
   * exported convolutions are still far from the pre-trained ones.
   */
  @Test
  void fromScratchDoesNotStartFromThePretrainedWeights() throws InterruptedException {
    Run done =
        runToEnd(
            small(experiment, Strategy.FROM_SCRATCH)
                .setHyperParameters(
                    HyperParameters.newBuilder()
                        .setEpochs(1)
                        .setBatchSize(16)
                        .setLearningRate(1e-9))
                .setModelName("scratch")
                .build());
    assertEquals(done.getTotalParameters(), done.getTrainableParameters());
    Map<String, float[]> scratch = exportedBackbone(done);
    for (String conv : List.of("features.0.conv", "features.1.conv", "features.2.conv")) {
      String weight = weightOf(conv);
      double diff = maxAbsDiff(base.get(weight), scratch.get(weight));
      assertTrue(diff > 1e-2, weight + " is within " + diff + " of the pre-trained weights");
    }
  }

  @Test
  void lateWatcherGetsTheHistoryFirstThenLiveEvents() throws InterruptedException {
    Run started =
        training.startRun(
            small(experiment, Strategy.FINE_TUNING)
                .setHyperParameters(HyperParameters.newBuilder().setEpochs(3).setBatchSize(8))
                .build());
    // Join once the first epoch is over.
    while (training
            .getRun(dev.graft.api.v1.GetRunRequest.newBuilder().setRunId(started.getId()).build())
            .getMetricsCount()
        == 0) {
      Thread.sleep(20);
    }
    List<RunEvent> events = watchAll(channel, started.getId());
    assertStream(events, 3);
    // And once it has ended: the same history, then the end of the stream.
    List<RunEvent> after = watchAll(channel, started.getId());
    assertStream(after, 3);
    assertEquals(withoutProgress(events), withoutProgress(after));
  }

  @Test
  void twoWatchersAtOnceBothGetEverything() throws InterruptedException {
    Run started = training.startRun(small(experiment, Strategy.TRANSFER_LEARNING).build());
    var async = TrainingServiceGrpc.newStub(channel);
    List<List<RunEvent>> received = new ArrayList<>();
    CountDownLatch ended = new CountDownLatch(2);
    List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
    for (int i = 0; i < 2; i++) {
      List<RunEvent> events = Collections.synchronizedList(new ArrayList<>());
      received.add(events);
      async.watchRun(
          WatchRunRequest.newBuilder().setRunId(started.getId()).build(),
          new StreamObserver<>() {
            @Override
            public void onNext(RunEvent value) {
              events.add(value);
            }

            @Override
            public void onError(Throwable t) {
              errors.add(t);
              ended.countDown();
            }

            @Override
            public void onCompleted() {
              ended.countDown();
            }
          });
    }
    assertTrue(ended.await(2, TimeUnit.MINUTES), "the streams did not end with the run");
    assertEquals(List.of(), errors);
    for (List<RunEvent> events : received) {
      assertStream(events, 2);
    }
    assertEquals(withoutProgress(received.get(0)), withoutProgress(received.get(1)));
  }

  /** Increasing sequence numbers, QUEUED first, every epoch, an export, SUCCEEDED last. */
  private static void assertStream(List<RunEvent> events, int epochs) {
    assertEquals(RunStatus.QUEUED, events.get(0).getStatus().getStatus(), events.toString());
    for (int i = 1; i < events.size(); i++) {
      assertTrue(events.get(i).getSequence() > events.get(i - 1).getSequence(), events.toString());
    }
    assertEquals(epochs, events.stream().filter(RunEvent::hasEpoch).count(), "epochs in " + events);
    assertTrue(events.stream().anyMatch(RunEvent::hasExport), "no export in " + events);
    RunEvent last = events.get(events.size() - 1);
    assertEquals(RunStatus.SUCCEEDED, last.getStatus().getStatus(), last.toString());
  }

  private static List<RunEvent> withoutProgress(List<RunEvent> events) {
    return events.stream().filter(e -> !e.hasProgress()).toList();
  }

  /** The weight initializer of a conv node ("features.0.conv" → "features.0.conv.weight"). */
  private String weightOf(String conv) {
    return base.keySet().stream()
        .filter(n -> n.startsWith(conv + "."))
        .filter(n -> n.endsWith("weight"))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no weight of " + conv + " in " + base.keySet()));
  }
}
