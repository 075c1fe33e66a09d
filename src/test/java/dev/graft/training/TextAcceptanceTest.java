package dev.graft.training;

import static dev.graft.training.TrainingFixtures.awaitEnd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.Device;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.Run;
import dev.graft.api.v1.RunStatus;
import dev.graft.api.v1.SplitSpec;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.api.v1.TrainingServiceGrpc;
import dev.graft.core.StorageConfig;
import dev.graft.data.Dataset;
import dev.graft.data.DatasetReader;
import dev.graft.data.Splits;
import dev.graft.support.GraftTest;
import dev.graft.support.TextDatasetSupport;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 13's text acceptance, through gRPC: on SpamAssassin e-mail bodies at 200 training examples,
 * MiniLM transfer learning and fine-tuning both beat FROM_SCRATCH (the same encoder with random
 * weights) on the same split, each with Graft's default budget ({@code epochs: 0}); a bag-of-words
 * logistic regression on the same split is the classical baseline beside them. Prints the table.
 *
 * <p>{@code ./mvnw -o -Pacceptance test -Dtest=TextAcceptanceTest}; {@code
 * -Dgraft.acceptance.text.length} (default 64) sets max_sequence_length, {@code .examples} (default
 * 200) the training examples.
 */
@QuarkusTest
@Tag("acceptance")
class TextAcceptanceTest extends GraftTest {

  private static final int LENGTH = Integer.getInteger("graft.acceptance.text.length", 64);
  private static final int EXAMPLES = Integer.getInteger("graft.acceptance.text.examples", 200);
  private static final long SEED = 7;
  private static final Pattern WORD = Pattern.compile("[a-z0-9']+");

  @Inject BaseModelBootstrap bootstrap;
  @Inject RunStore store;
  @Inject StorageConfig storage;

  @Test
  void transferLearningAndFineTuningBeatFromScratchAtTwoHundredExamples() throws Exception {
    TextDatasetSupport.corpusDir();
    bootstrap.registerMinilm();
    String dataset = "spam-ham-acceptance";
    // 400 e-mails: 60 % train (240, limited to 200), 20 % validation, 20 % test.
    TextDatasetSupport.uploadSpamHam(channel, dataset, 400, 42, TextDatasetSupport.Part.BODY);
    long experiment = TrainingFixtures.experiment(channel, "text-acceptance");
    var training = TrainingServiceGrpc.newBlockingStub(channel);
    Map<String, Run> runs = new LinkedHashMap<>();
    for (Strategy strategy :
        List.of(Strategy.TRANSFER_LEARNING, Strategy.FINE_TUNING, Strategy.FROM_SCRATCH)) {
      long start = System.nanoTime();
      Run started =
          training.startRun(
              StartRunRequest.newBuilder()
                  .setExperimentId(experiment)
                  .setBaseModel(BaseModelBootstrap.MINILM)
                  .setDataset(dataset)
                  .setStrategy(strategy)
                  .setHyperParameters(
                      HyperParameters.newBuilder().setMaxSequenceLength(LENGTH).setBatchSize(16))
                  .setSplit(
                      SplitSpec.newBuilder()
                          .setValidationFraction(0.2)
                          .setTestFraction(0.2)
                          .setMaxTrainExamples(EXAMPLES))
                  .setSeed(SEED)
                  .setDevice(Device.CPU)
                  .build());
      Run done = awaitEnd(channel, started.getId(), Duration.ofMinutes(30));
      assertEquals(RunStatus.SUCCEEDED, done.getStatus(), done.getError());
      System.out.printf(
          Locale.ROOT,
          "text acceptance: %s done in %.0f s, plan %s%n",
          strategy,
          (System.nanoTime() - start) / 1e9,
          done.getPlan().getReason());
      runs.put(strategy.name(), done);
    }
    String splitHash = runs.get("TRANSFER_LEARNING").getSplitHash();
    runs.values().forEach(r -> assertEquals(splitHash, r.getSplitHash(), "the same split"));

    double[] bow = bagOfWords(store.dataset(dataset), splitHash);

    StringBuilder table = new StringBuilder();
    table.append(
        String.format(
            Locale.ROOT,
            "| model (%d training e-mails, length %d) | test accuracy | test macro-F1 | epochs |"
                + " how |%n|---|---|---|---|---|%n",
            EXAMPLES,
            LENGTH));
    for (Map.Entry<String, Run> e : runs.entrySet()) {
      Run r = e.getValue();
      table.append(
          String.format(
              Locale.ROOT,
              "| MiniLM %s | %.3f | %.3f | %d | %s, lr %.3g |%n",
              e.getKey(),
              r.getTestMetricsOrThrow("test_accuracy"),
              r.getTestMetricsOrThrow("test_macro_f1"),
              r.getPlan().getEpochs(),
              r.getPlan().getHeadFit(),
              r.getPlan().getLearningRate()));
    }
    table.append(
        String.format(
            Locale.ROOT,
            "| bag-of-words logistic regression | %.3f | %.3f | - | L-BFGS, %d words |%n",
            bow[0],
            bow[1],
            (int) bow[2]));
    System.out.println("text acceptance table:\n" + table);

    double tl = runs.get("TRANSFER_LEARNING").getTestMetricsOrThrow("test_accuracy");
    double ft = runs.get("FINE_TUNING").getTestMetricsOrThrow("test_accuracy");
    double scratch = runs.get("FROM_SCRATCH").getTestMetricsOrThrow("test_accuracy");
    assertTrue(tl > scratch, "TL " + tl + " must beat FROM_SCRATCH " + scratch);
    assertTrue(ft > scratch, "FT " + ft + " must beat FROM_SCRATCH " + scratch);
  }

  /**
   * A bag-of-words logistic regression on the runs' split: words ({@code [a-z0-9']+}, lower case)
   * of at least 2 training texts, log(1 + count) features, multinomial logistic regression fitted
   * by the same L-BFGS solver with the L2 strength picked on the validation split.
   *
   * @return test accuracy, test macro-F1, vocabulary size
   */
  private double[] bagOfWords(Dataset dataset, String splitHash) {
    Path file = Path.of(dataset.storagePath);
    try (DatasetReader reader =
        DatasetReader.open(file.isAbsolute() ? file : storage.dir().resolve(file))) {
      Splits.Split split =
          Splits.split(reader, dataset.sha256, new Splits.Fractions(1 - 0.2 - 0.2, 0.2, 0.2), SEED);
      assertEquals(splitHash, split.hash(), "the baseline's split is the runs'");
      int[] labels = reader.labels();
      int[] train = TrainingJob.limit(split.train(), labels, EXAMPLES, SEED);
      Map<String, Integer> documentFrequency = new HashMap<>();
      for (int i : train) {
        words(reader.text(i)).keySet().forEach(w -> documentFrequency.merge(w, 1, Integer::sum));
      }
      Map<String, Integer> vocabulary = new HashMap<>();
      documentFrequency.entrySet().stream()
          .filter(e -> e.getValue() >= 2)
          .map(Map.Entry::getKey)
          .sorted()
          .forEach(w -> vocabulary.put(w, vocabulary.size()));
      SoftmaxRegression.Selection fit =
          SoftmaxRegression.fitAndSelect(
              features(reader, train, vocabulary),
              pick(labels, train),
              features(reader, split.validation(), vocabulary),
              pick(labels, split.validation()),
              2,
              new CancelToken());
      Evaluation test =
          SoftmaxRegression.evaluate(
              fit.head(),
              features(reader, split.test(), vocabulary),
              pick(labels, split.test()),
              2);
      return new double[] {
        test.accuracy(), test.metrics("test").get("test_macro_f1"), vocabulary.size()
      };
    }
  }

  private static Map<String, Integer> words(String text) {
    Map<String, Integer> counts = new HashMap<>();
    Matcher m = WORD.matcher(text.toLowerCase(Locale.ROOT));
    while (m.find()) {
      counts.merge(m.group(), 1, Integer::sum);
    }
    return counts;
  }

  private static float[][] features(
      DatasetReader reader, int[] indices, Map<String, Integer> vocabulary) {
    float[][] x = new float[indices.length][vocabulary.size()];
    for (int r = 0; r < indices.length; r++) {
      for (Map.Entry<String, Integer> e : words(reader.text(indices[r])).entrySet()) {
        Integer column = vocabulary.get(e.getKey());
        if (column != null) {
          x[r][column] = (float) Math.log1p(e.getValue());
        }
      }
    }
    return x;
  }

  private static int[] pick(int[] labels, int[] indices) {
    int[] out = new int[indices.length];
    for (int i = 0; i < indices.length; i++) {
      out[i] = labels[indices[i]];
    }
    return out;
  }
}
