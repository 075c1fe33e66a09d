package dev.graft.training;

import static dev.graft.training.TrainingFixtures.awaitEnd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.HyperParameters;
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
import dev.graft.support.GraftTest;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 10's acceptance, through gRPC only: cnn-small pre-trained on Fashion-MNIST, then MNIST
 * digits at 50, 200 and 1,000 training examples; for each strategy the default run ({@code epochs:
 * 0}, no learning rate) must reach at least 0.98 x the best test accuracy of a grid of explicit
 * settings (learning rate x 4, epochs x 2) for the same strategy, split and seed. Prints one table
 * row per (size, strategy). Needs the real datasets under {@code target/datasets} and skips without
 * them.
 *
 * <p>Resized by system properties: {@code graft.acceptance.sizes} (default 50,200,1000), {@code
 * .strategies} (default all four), {@code .grid-rates} (default 3e-4,1e-3,3e-3,1e-2), {@code
 * .grid-epochs} (default 20,60), {@code .pretrain-epochs} (default 2).
 */
@QuarkusTest
@Tag("acceptance")
class DefaultsAcceptanceTest extends GraftTest {

  private static final Path DATA =
      Path.of(System.getProperty("graft.acceptance.datasets", "target/datasets"));
  private static final List<String> FASHION_FILES =
      List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");

  @Inject Datasets datasets;

  @Test
  void defaultRunsReachTheBestOfAGrid() throws Exception {
    Path fashion = DATA.resolve("fashion-mnist");
    Path digits = DATA.resolve("mnist-digits");
    Assumptions.assumeTrue(
        FASHION_FILES.stream().allMatch(f -> Files.isRegularFile(fashion.resolve(f)))
            && Files.isRegularFile(digits.resolve("9.json")),
        "Fashion-MNIST and MNIST digits are not under "
            + DATA.toAbsolutePath()
            + ": run scripts/fetch-datasets.sh; skipping");
    Path root = datasets.allowedRoot().path();
    copy(fashion, root.resolve("fashion-mnist"), FASHION_FILES);
    copy(
        digits,
        root.resolve("mnist-digits"),
        java.util.stream.IntStream.range(0, 10).mapToObj(d -> d + ".json").toList());
    var datasetService = DatasetServiceGrpc.newBlockingStub(channel);
    datasetService.registerDataset(
        RegisterDatasetRequest.newBuilder()
            .setName("fashion-mnist")
            .setSource(DatasetSource.DATASET_SOURCE_IDX)
            .setPath("fashion-mnist/train-images-idx3-ubyte.gz")
            .setLabelsPath("fashion-mnist/train-labels-idx1-ubyte.gz")
            .addAllClassNames(
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
                    "ankle-boot"))
            .build());
    datasetService.registerDataset(
        RegisterDatasetRequest.newBuilder()
            .setName("mnist-digits")
            .setSource(DatasetSource.DATASET_SOURCE_MNIST_JSON)
            .setPath("mnist-digits")
            .build());
    long experiment = TrainingFixtures.experiment(channel, "defaults-acceptance");
    Run pre =
        awaitEnd(
            channel,
            ModelServiceGrpc.newBlockingStub(channel)
                .pretrainBaseModel(
                    PretrainBaseModelRequest.newBuilder()
                        .setName("cnn-small-fmnist")
                        .setArchitecture("cnn-small")
                        .setDataset("fashion-mnist")
                        .setExperimentId(experiment)
                        .setHyperParameters(
                            HyperParameters.newBuilder()
                                .setEpochs(
                                    Integer.getInteger("graft.acceptance.pretrain-epochs", 2))
                                .setBatchSize(64)
                                .setLearningRate(0.002)
                                .setSchedule(Schedule.COSINE))
                        .setSplit(
                            SplitSpec.newBuilder().setValidationFraction(0.05).setTestFraction(0.1))
                        .setSeed(42)
                        .setDevice(Device.CPU)
                        .build())
                .getId(),
            Duration.ofMinutes(20));
    assertEquals(RunStatus.SUCCEEDED, pre.getStatus(), pre.getError());

    int[] sizes = ints(System.getProperty("graft.acceptance.sizes", "50,200,1000"));
    List<Strategy> strategies =
        Arrays.stream(
                System.getProperty(
                        "graft.acceptance.strategies",
                        "TRANSFER_LEARNING,FINE_TUNING,GRADUAL,FROM_SCRATCH")
                    .split(","))
            .map(Strategy::valueOf)
            .toList();
    double[] rates =
        Arrays.stream(
                System.getProperty("graft.acceptance.grid-rates", "3e-4,1e-3,3e-3,1e-2").split(","))
            .mapToDouble(Double::parseDouble)
            .toArray();
    int[] epochs = ints(System.getProperty("graft.acceptance.grid-epochs", "20,60"));
    var training = TrainingServiceGrpc.newBlockingStub(channel);
    List<String> failures = new ArrayList<>();
    System.out.println(
        "ACCEPTANCE-10 | examples | strategy | default | best of grid (lr, epochs) | ratio |"
            + " default plan");
    for (int size : sizes) {
      for (Strategy strategy : strategies) {
        Run byDefault =
            run(training, experiment, strategy, size, HyperParameters.getDefaultInstance());
        double best = -1;
        String bestAt = "";
        for (double rate : rates) {
          for (int e : epochs) {
            Run g =
                run(
                    training,
                    experiment,
                    strategy,
                    size,
                    HyperParameters.newBuilder().setEpochs(e).setLearningRate(rate).build());
            double a = g.getTestMetricsOrThrow("test_accuracy");
            if (a > best) {
              best = a;
              bestAt = rate + ", " + e;
            }
          }
        }
        double accuracy = byDefault.getTestMetricsOrThrow("test_accuracy");
        double ratio = accuracy / best;
        System.out.printf(
            "ACCEPTANCE-10 | %d | %s | %.4f | %.4f (%s) | %.3f | %s, lr %.3g, %d epochs planned,"
                + " %d run%n",
            size,
            strategy,
            accuracy,
            best,
            bestAt,
            ratio,
            byDefault.getPlan().getHeadFit(),
            byDefault.getPlan().getLearningRate(),
            byDefault.getPlan().getEpochs(),
            byDefault.getMetricsList().stream()
                .filter(m -> m.getKey().equals("val_loss") && m.getEpoch() >= 1)
                .count());
        if (ratio < 0.98) {
          failures.add(size + " " + strategy + ": " + accuracy + " vs " + best);
        }
      }
    }
    assertTrue(failures.isEmpty(), "below 0.98 x the best of the grid: " + failures);
  }

  private Run run(
      TrainingServiceGrpc.TrainingServiceBlockingStub training,
      long experiment,
      Strategy strategy,
      int size,
      HyperParameters hyper)
      throws InterruptedException {
    Run started =
        training.startRun(
            StartRunRequest.newBuilder()
                .setExperimentId(experiment)
                .setBaseModel("cnn-small-fmnist")
                .setDataset("mnist-digits")
                .setStrategy(strategy)
                .setHyperParameters(hyper)
                .setSplit(
                    SplitSpec.newBuilder()
                        .setValidationFraction(0.1)
                        .setTestFraction(0.2)
                        .setMaxTrainExamples(size))
                .setSeed(7)
                .setDevice(Device.CPU)
                .build());
    Run done = awaitEnd(channel, started.getId(), Duration.ofMinutes(30));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    return done;
  }

  private static int[] ints(String csv) {
    return Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
  }

  private static void copy(Path from, Path to, List<String> files) throws IOException {
    Files.createDirectories(to);
    for (String f : files) {
      Files.copy(from.resolve(f), to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
