package dev.graft.training;

import static dev.graft.training.TrainingFixtures.awaitEnd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.graft.api.v1.CompareStrategiesRequest;
import dev.graft.api.v1.Comparison;
import dev.graft.api.v1.ComparisonCell;
import dev.graft.api.v1.ComparisonServiceGrpc;
import dev.graft.api.v1.CutPointProbe;
import dev.graft.api.v1.DatasetServiceGrpc;
import dev.graft.api.v1.DatasetSource;
import dev.graft.api.v1.Device;
import dev.graft.api.v1.DownloadModelVersionRequest;
import dev.graft.api.v1.GetComparisonRequest;
import dev.graft.api.v1.GetRunRequest;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.InferenceServiceGrpc;
import dev.graft.api.v1.Input;
import dev.graft.api.v1.ListRunsRequest;
import dev.graft.api.v1.ModelRef;
import dev.graft.api.v1.ModelServiceGrpc;
import dev.graft.api.v1.PredictRequest;
import dev.graft.api.v1.PredictResponse;
import dev.graft.api.v1.PretrainBaseModelRequest;
import dev.graft.api.v1.ProbeLayersRequest;
import dev.graft.api.v1.ProbeLayersResponse;
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
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
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

    // The default run of every (size, strategy) comes from one CompareStrategies call, with the
    // probe sweep: the same StartRun requests (split, seed, size) as the grid's runs below.
    Comparison compared = compare(experiment, sizes, strategies);
    assertEquals("SUCCEEDED", compared.getStatus(), compared.toString());
    assertEquals(sizes.length * strategies.size(), compared.getCellsCount());
    assertEquals(sizes.length, compared.getVerdictsCount());
    assertFalse(compared.getRecommendation().isBlank());
    System.out.println("ACCEPTANCE-10 recommendation: " + compared.getRecommendation());
    Map<String, ComparisonCell> cells = new HashMap<>();
    Set<String> splits = new HashSet<>();
    List<Long> listed =
        training
            .listRuns(
                ListRunsRequest.newBuilder().setExperimentId(experiment).setPageSize(1000).build())
            .getRunsList()
            .stream()
            .map(Run::getId)
            .toList();
    for (ComparisonCell cell : compared.getCellsList()) {
      cells.put(cell.getTrainingExamples() + " " + cell.getStrategy(), cell);
      assertEquals(1, cell.getRunsSucceeded(), cell.toString());
      Run run = training.getRun(GetRunRequest.newBuilder().setRunId(cell.getRunIds(0)).build());
      assertEquals(run.getTestMetricsOrThrow("test_accuracy"), cell.getTestAccuracy(), 1e-12);
      assertTrue(listed.contains(run.getId()), "comparison runs are listed like any other");
      splits.add(run.getSplitHash());
    }
    assertEquals(Set.of(compared.getSplitHash()), splits, "one split for every cell");

    // The probe sweep: every block of cnn-small with an accuracy, in seconds, the same as a
    // ProbeLayers call on that split; a run from the best cut point reproduces its probe.
    assertEquals("SUCCEEDED", compared.getProbeStatus(), compared.getProbeError());
    ProbeLayersResponse sweep = compared.getProbeSweep();
    int largest = sizes[sizes.length - 1];
    ProbeLayersResponse direct =
        ComparisonServiceGrpc.newBlockingStub(channel)
            .probeLayers(
                ProbeLayersRequest.newBuilder()
                    .setBaseModel("cnn-small-fmnist")
                    .setDataset("mnist-digits")
                    .setSplit(split(0))
                    .setSeed(7)
                    .setMaxTrainExamples(largest)
                    .build());
    assertEquals(
        List.of("features.0", "features.1", "features.2"),
        sweep.getProbesList().stream().map(CutPointProbe::getName).toList());
    assertEquals(
        direct.getProbesList().stream().map(CutPointProbe::getName).toList(),
        sweep.getProbesList().stream().map(CutPointProbe::getName).toList());
    assertEquals(
        direct.getSplitHash(), compared.getSplitHash(), "the sweep used the comparison's split");
    for (int i = 0; i < sweep.getProbesCount(); i++) {
      CutPointProbe p = sweep.getProbes(i);
      assertEquals(p.getValAccuracy(), direct.getProbes(i).getValAccuracy(), p.getName());
      assertTrue(p.getValAccuracy() > 0.1 && p.getValAccuracy() <= 1, p.toString());
      System.out.printf(
          "ACCEPTANCE-10 probe | %s | %d features | val accuracy %.4f | l2 %.0e | %.2f s%n",
          p.getName(), p.getFeatureSize(), p.getValAccuracy(), p.getL2(), p.getTrainSeconds());
    }
    System.out.printf(
        "ACCEPTANCE-10 probe sweep: %d training, %d validation examples, features %.2f s, total"
            + " %.2f s (comparison), %.2f s (ProbeLayers)%n",
        sweep.getTrainExamples(),
        sweep.getValidationExamples(),
        sweep.getFeatureSeconds(),
        sweep.getTotalSeconds(),
        direct.getTotalSeconds());
    assertTrue(direct.getTotalSeconds() < 120, "a probe sweep takes seconds");
    CutPointProbe bestProbe =
        sweep.getProbesList().stream()
            .filter(p -> p.getName().equals(sweep.getBestCutPoint()))
            .findFirst()
            .orElseThrow();
    Run atBest =
        bestProbe.getFeatureTensor()
                && cells.containsKey(largest + " " + Strategy.TRANSFER_LEARNING)
            ? training.getRun(
                GetRunRequest.newBuilder()
                    .setRunId(cells.get(largest + " " + Strategy.TRANSFER_LEARNING).getRunIds(0))
                    .build())
            : run(
                training,
                experiment,
                Strategy.TRANSFER_LEARNING,
                largest,
                HyperParameters.getDefaultInstance(),
                bestProbe.getName());
    double runValAccuracy = TrainingFixtures.valAccuracy(atBest);
    System.out.printf(
        "ACCEPTANCE-10 probe at %s %.4f, TRANSFER_LEARNING run there %.4f (test %.4f)%n",
        bestProbe.getName(),
        bestProbe.getValAccuracy(),
        runValAccuracy,
        atBest.getTestMetricsOrThrow("test_accuracy"));
    assertEquals(
        bestProbe.getValAccuracy(),
        runValAccuracy,
        0.01,
        "the run at the bestProbe cut point reproduces its probe within noise");

    // Comparison runs are served like any other: download the best run's model, predict digits.
    ComparisonCell top =
        compared.getCellsList().stream()
            .filter(c -> c.getTrainingExamples() == largest)
            .max(java.util.Comparator.comparingDouble(ComparisonCell::getTestAccuracy))
            .orElseThrow();
    Run topRun = training.getRun(GetRunRequest.newBuilder().setRunId(top.getRunIds(0)).build());
    String modelName = topRun.getModelVersion().substring(0, topRun.getModelVersion().indexOf(':'));
    assertTrue(
        TrainingFixtures.download(
                    channel,
                    DownloadModelVersionRequest.newBuilder()
                        .setModel(ModelRef.newBuilder().setName(modelName).setAlias("latest"))
                        .build())
                .size()
            > 0,
        "the model downloads");
    int correct = predictDigits(root.resolve("mnist-digits"), modelName);
    System.out.printf(
        "ACCEPTANCE-10 served %s (%s, %d examples): %d of 20 digits right (test accuracy %.4f)%n",
        topRun.getModelVersion(), top.getStrategy(), largest, correct, top.getTestAccuracy());
    assertTrue(correct >= Math.floor(20 * (top.getTestAccuracy() - 0.25)), correct + " of 20");

    List<String> failures = new ArrayList<>();
    System.out.println(
        "ACCEPTANCE-10 | examples | strategy | default | best of grid (lr, epochs) | ratio |"
            + " default plan");
    for (int size : sizes) {
      for (Strategy strategy : strategies) {
        Run byDefault =
            training.getRun(
                GetRunRequest.newBuilder()
                    .setRunId(cells.get(size + " " + strategy).getRunIds(0))
                    .build());
        assertEquals(size, byDefault.getConfig().getSplit().getMaxTrainExamples());
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
                    HyperParameters.newBuilder().setEpochs(e).setLearningRate(rate).build(),
                    "");
            assertEquals(byDefault.getSplitHash(), g.getSplitHash(), "same split as the default");
            double a = g.getTestMetricsOrThrow("test_accuracy");
            System.out.printf(
                "ACCEPTANCE-10 grid | %d | %s | lr %s | %d epochs | %.4f%n",
                size, strategy, rate, e, a);
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
      HyperParameters hyper,
      String cutPoint)
      throws InterruptedException {
    Run started =
        training.startRun(
            StartRunRequest.newBuilder()
                .setExperimentId(experiment)
                .setBaseModel("cnn-small-fmnist")
                .setDataset("mnist-digits")
                .setStrategy(strategy)
                .setHyperParameters(hyper)
                .setSplit(split(size))
                .setSeed(7)
                .setCutPoint(cutPoint)
                .setDevice(Device.CPU)
                .build());
    Run done = awaitEnd(channel, started.getId(), Duration.ofMinutes(30));
    assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
    return done;
  }

  private static SplitSpec split(int maxTrainExamples) {
    return SplitSpec.newBuilder()
        .setValidationFraction(0.1)
        .setTestFraction(0.2)
        .setMaxTrainExamples(maxTrainExamples)
        .build();
  }

  /** One CompareStrategies call over every size and strategy, watched to its end. */
  private Comparison compare(long experiment, int[] sizes, List<Strategy> strategies) {
    var comparisons = ComparisonServiceGrpc.newBlockingStub(channel);
    CompareStrategiesRequest.Builder request =
        CompareStrategiesRequest.newBuilder()
            .setExperimentId(experiment)
            .setName("defaults")
            .setBaseModel("cnn-small-fmnist")
            .setDataset("mnist-digits")
            .addAllStrategies(strategies)
            .setSplit(split(0))
            .setSeed(7)
            .setProbeLayers(true)
            .setDevice(Device.CPU);
    for (int size : sizes) {
      request.addTrainingSizes(size);
    }
    Comparison queued = comparisons.compareStrategies(request.build());
    List<Comparison> seen = new ArrayList<>();
    comparisons
        .withDeadlineAfter(3, TimeUnit.HOURS)
        .watchComparison(GetComparisonRequest.newBuilder().setComparisonId(queued.getId()).build())
        .forEachRemaining(seen::add);
    return seen.get(seen.size() - 1);
  }

  /**
   * Predicts the first two images of every digit (as PNGs, what a client sends) with a served
   * model; how many come back as their digit.
   */
  private int predictDigits(Path digits, String model) throws IOException {
    PredictRequest.Builder request =
        PredictRequest.newBuilder().setModel(ModelRef.newBuilder().setName(model)).setTopK(1);
    for (int d = 0; d < 10; d++) {
      JsonNode data = new ObjectMapper().readTree(digits.resolve(d + ".json").toFile()).get("data");
      for (int k = 0; k < 2; k++) {
        BufferedImage image = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        for (int i = 0; i < 784; i++) {
          int v = (int) Math.round(data.get(k * 784 + i).asDouble() * 255);
          image.getRaster().setSample(i % 28, i / 28, 0, v);
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(image, "png", png);
        request.addInputs(Input.newBuilder().setImage(ByteString.copyFrom(png.toByteArray())));
      }
    }
    PredictResponse response =
        InferenceServiceGrpc.newBlockingStub(channel).predict(request.build());
    int correct = 0;
    for (int i = 0; i < response.getPredictionsCount(); i++) {
      if (response.getPredictions(i).getClasses(0).getIndex() == i / 2) {
        correct++;
      }
    }
    return correct;
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
