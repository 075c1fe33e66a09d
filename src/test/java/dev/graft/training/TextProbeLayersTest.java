package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.ComparisonServiceGrpc;
import dev.graft.api.v1.CutPointProbe;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ProbeLayersRequest;
import dev.graft.api.v1.ProbeLayersResponse;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.support.GraftTest;
import dev.graft.support.TextDatasetSupport;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ProbeLayers on the MiniLM text encoder through gRPC: one probe after the embeddings and each of
 * its six layers, masked-mean-pooled; the last equals a default TRANSFER_LEARNING run's validation
 * accuracy on the same split, and a run at an earlier layer reproduces that layer's probe.
 */
@QuarkusTest
class TextProbeLayersTest extends GraftTest {

  private static final String DATASET = "spam-ham-probe";
  private static boolean uploaded;

  @Inject BaseModelBootstrap bootstrap;

  private long experiment;

  @BeforeEach
  void setUp() {
    TextDatasetSupport.corpusDir(); // skips without the corpus
    bootstrap.registerMinilm();
    experiment = TrainingFixtures.experiment(channel, "text-probe");
    synchronized (TextProbeLayersTest.class) {
      if (!uploaded) {
        TextDatasetSupport.uploadSpamHam(channel, DATASET, 120);
        uploaded = true;
      }
    }
  }

  private static SplitSpec split() {
    return SplitSpec.newBuilder().setValidationFraction(0.2).setTestFraction(0.2).build();
  }

  @Test
  void everyEncoderLayerIsProbedAndRunsAtALayerReproduceItsProbe() throws Exception {
    ProbeLayersResponse sweep =
        ComparisonServiceGrpc.newBlockingStub(channel)
            .probeLayers(
                ProbeLayersRequest.newBuilder()
                    .setBaseModel(BaseModelBootstrap.MINILM)
                    .setDataset(DATASET)
                    .setSplit(split())
                    .setSeed(5)
                    .setMaxSequenceLength(32)
                    .build());
    System.out.println("text probe sweep: " + sweep);
    assertEquals(
        List.of(
            "embeddings",
            "encoder.layer.0",
            "encoder.layer.1",
            "encoder.layer.2",
            "encoder.layer.3",
            "encoder.layer.4",
            "encoder.layer.5"),
        sweep.getProbesList().stream().map(CutPointProbe::getName).toList());
    for (CutPointProbe p : sweep.getProbesList()) {
      assertEquals(384, p.getFeatureSize());
      assertTrue(p.getValAccuracy() >= 0 && p.getValAccuracy() <= 1, p.toString());
    }
    int validation = sweep.getValidationExamples();
    for (int i : new int[] {6, 2}) {
      CutPointProbe probe = sweep.getProbes(i);
      Run run = defaultTransfer(i == 6 ? "" : probe.getName());
      assertEquals(sweep.getSplitHash(), run.getSplitHash());
      // Measured: one validation example apart at both cut points (0.875 vs 0.833 at layer 5,
      // 0.833 vs 0.792 at layer 2): the two ONNX Runtime graphs differ by ~1e-6 in the pooled
      // features and the weakly regularised L2 candidates flip a borderline text. Two examples of
      // slack keep this robust across CPUs.
      assertEquals(
          probe.getValAccuracy(),
          TrainingFixtures.valAccuracy(run),
          2.0 / validation + 1e-9,
          "probe at " + probe.getName() + " vs the run's validation accuracy");
    }
  }

  private Run defaultTransfer(String cut) throws InterruptedException {
    Run queued =
        TrainingServiceGrpc.newBlockingStub(channel)
            .startRun(
                StartRunRequest.newBuilder()
                    .setExperimentId(experiment)
                    .setBaseModel(BaseModelBootstrap.MINILM)
                    .setDataset(DATASET)
                    .setStrategy(Strategy.TRANSFER_LEARNING)
                    .setHyperParameters(HyperParameters.newBuilder().setMaxSequenceLength(32))
                    .setSplit(split())
                    .setSeed(5)
                    .setDevice(Device.CPU)
                    .setCutPoint(cut)
                    .build());
    Run done = TrainingFixtures.awaitEnd(channel, queued.getId(), Duration.ofMinutes(5));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    return done;
  }
}
