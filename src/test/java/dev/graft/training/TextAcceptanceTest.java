package dev.graft.training;

import static dev.graft.training.TrainingFixtures.awaitEnd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
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
import dev.graft.model.BaseModels;
import dev.graft.support.GraftTest;
import dev.graft.support.TextDatasetSupport;
import dev.graft.text.TextTokenizer;
import dev.graft.text.TokenBatch;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
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
  @Inject BaseModels baseModels;

  @Test
  void transferLearningAndFineTuningBeatFromScratchAtTwoHundredExamples() throws Exception {
    TextDatasetSupport.corpusDir();
    bootstrap.registerMinilm();
    String dataset = "spam-ham-acceptance";
    // 400 e-mails: 60 % train (240, limited to 200), 20 % validation, 20 % test.
    TextDatasetSupport.uploadSpamHam(channel, dataset, 400, 42, TextDatasetSupport.Part.BODY);
    compare(dataset, "e-mails", LENGTH);
  }

  /**
   * The semantic task: AFINN-165 words and phrases rated negative or positive (500 of each, 200
   * training words, 200 test words). A test word never occurs in training, so neither a bag of
   * words nor an encoder trained from random weights can rate it from its spelling alone; what
   * MiniLM learned of English words can.
   */
  @Test
  void transferLearningAndFineTuningBeatFromScratchOnWordSentiment() throws Exception {
    TextDatasetSupport.afinnDir();
    bootstrap.registerMinilm();
    String dataset = "afinn-acceptance";
    TextDatasetSupport.uploadAfinn(channel, dataset, 500, 42);
    compare(dataset, "AFINN words", 16);
  }

  /** TL, FT and FROM_SCRATCH on the same split, then the bag of words; asserts TL, FT > scratch. */
  private void compare(String dataset, String what, int length) throws Exception {
    long experiment = TrainingFixtures.experiment(channel, "text-acceptance-" + dataset);
    var training = TrainingServiceGrpc.newBlockingStub(channel);
    Map<String, Run> runs = new LinkedHashMap<>();
    Map<String, Double> seconds = new LinkedHashMap<>();
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
                      HyperParameters.newBuilder().setMaxSequenceLength(length).setBatchSize(16))
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
      seconds.put(strategy.name(), (System.nanoTime() - start) / 1e9);
      System.out.printf(
          Locale.ROOT,
          "text acceptance (%s): %s done in %.0f s, plan %s%n",
          dataset,
          strategy,
          seconds.get(strategy.name()),
          done.getPlan().getReason());
      runs.put(strategy.name(), done);
    }
    String splitHash = runs.get("TRANSFER_LEARNING").getSplitHash();
    runs.values().forEach(r -> assertEquals(splitHash, r.getSplitHash(), "the same split"));

    double[] bow = bagOfWords(store.dataset(dataset), splitHash);
    double[] reference = embeddingReference(store.dataset(dataset), splitHash, length);

    StringBuilder table = new StringBuilder();
    table.append(
        String.format(
            Locale.ROOT,
            "| model (%d training %s, length %d) | test accuracy | test macro-F1 | epochs |"
                + " how |%n|---|---|---|---|---|%n",
            EXAMPLES,
            what,
            length));
    for (Map.Entry<String, Run> e : runs.entrySet()) {
      Run r = e.getValue();
      table.append(
          String.format(
              Locale.ROOT,
              "| MiniLM %s | %.3f | %.3f | %d | %s, lr %.3g (%.0f s) |%n",
              e.getKey(),
              r.getTestMetricsOrThrow("test_accuracy"),
              r.getTestMetricsOrThrow("test_macro_f1"),
              r.getPlan().getEpochs(),
              r.getPlan().getHeadFit(),
              r.getPlan().getLearningRate(),
              seconds.get(e.getKey())));
    }
    table.append(
        String.format(
            Locale.ROOT,
            "| reference: MiniLM mean-pooled embeddings (ORT), L2-normalised, standardised,"
                + " Newton logistic regression | %.3f | %.3f | - | C = %.3g picked on val |%n",
            reference[0],
            reference[1],
            reference[2]));
    table.append(
        String.format(
            Locale.ROOT,
            "| bag-of-words logistic regression | %.3f | %.3f | - | L-BFGS, %d words |%n",
            bow[0],
            bow[1],
            (int) bow[2]));
    System.out.println("text acceptance table (" + dataset + "):\n" + table);

    double tl = runs.get("TRANSFER_LEARNING").getTestMetricsOrThrow("test_accuracy");
    double ft = runs.get("FINE_TUNING").getTestMetricsOrThrow("test_accuracy");
    double scratch = runs.get("FROM_SCRATCH").getTestMetricsOrThrow("test_accuracy");
    assertTrue(tl > scratch, "TL " + tl + " must beat FROM_SCRATCH " + scratch);
    assertTrue(ft > scratch, "FT " + ft + " must beat FROM_SCRATCH " + scratch);
  }

  /**
   * What a practitioner gets from the same frozen encoder, computed apart from Graft's own code
   * paths: MiniLM run by ONNX Runtime on the tokenizer's ids, masked mean pooling and L2
   * normalisation as sentence-transformers' all-MiniLM-L6-v2 pipeline does, features standardised
   * on the training rows, then a binary logistic regression fitted exactly (Newton's method, as
   * scikit-learn's LogisticRegression converges to) for C in 1e-3..1e3, C picked on validation.
   *
   * @return test accuracy, test macro-F1, the chosen C
   */
  private double[] embeddingReference(Dataset dataset, String splitHash, int length)
      throws Exception {
    Path file = Path.of(dataset.storagePath);
    try (DatasetReader reader =
            DatasetReader.open(file.isAbsolute() ? file : storage.dir().resolve(file));
        TextTokenizer tokenizer =
            TextTokenizer.load(baseModels.tokenizerFile(BaseModelBootstrap.MINILM), length);
        OrtSession session =
            OrtEnvironment.getEnvironment()
                .createSession(
                    baseModels.file(BaseModelBootstrap.MINILM).toString(),
                    new OrtSession.SessionOptions())) {
      Splits.Split split =
          Splits.split(reader, dataset.sha256, new Splits.Fractions(1 - 0.2 - 0.2, 0.2, 0.2), SEED);
      assertEquals(splitHash, split.hash(), "the reference's split is the runs'");
      int[] labels = reader.labels();
      int[] train = TrainingJob.limit(split.train(), labels, EXAMPLES, SEED);
      double[][] xTrain = embed(reader, train, tokenizer, session);
      double[][] xVal = embed(reader, split.validation(), tokenizer, session);
      double[][] xTest = embed(reader, split.test(), tokenizer, session);
      int d = xTrain[0].length;
      double[] mean = new double[d];
      double[] std = new double[d];
      for (double[] r : xTrain) {
        for (int j = 0; j < d; j++) {
          mean[j] += r[j] / xTrain.length;
        }
      }
      for (double[] r : xTrain) {
        for (int j = 0; j < d; j++) {
          std[j] += (r[j] - mean[j]) * (r[j] - mean[j]) / xTrain.length;
        }
      }
      for (double[][] x : List.of(xTrain, xVal, xTest)) {
        for (double[] r : x) {
          for (int j = 0; j < d; j++) {
            r[j] = (r[j] - mean[j]) / Math.max(Math.sqrt(std[j]), 1e-12);
          }
        }
      }
      int[] yTrain = pick(labels, train);
      int[] yVal = pick(labels, split.validation());
      double bestC = 0;
      double bestVal = -1;
      double[] best = null;
      for (double c = 1e-3; c <= 1e3 * 1.0001; c *= Math.sqrt(10)) {
        double[] w = newtonLogistic(xTrain, yTrain, c);
        double val = accuracy(w, xVal, yVal);
        if (val > bestVal + 1e-12) {
          bestVal = val;
          bestC = c;
          best = w;
        }
      }
      int[] yTest = pick(labels, split.test());
      Evaluation test = new Evaluation(2);
      double[] logits = new double[xTest.length];
      for (int i = 0; i < xTest.length; i++) {
        logits[i] = score(best, xTest[i]);
        test.add(0, new int[] {yTest[i]}, new int[] {logits[i] > 0 ? 1 : 0});
      }
      return new double[] {test.accuracy(), test.metrics("test").get("test_macro_f1"), bestC};
    }
  }

  /** Mean-pooled, L2-normalised last_hidden_state of MiniLM (ORT), batches of 32 texts. */
  private static double[][] embed(
      DatasetReader reader, int[] indices, TextTokenizer tokenizer, OrtSession session)
      throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    double[][] out = new double[indices.length][];
    for (int from = 0; from < indices.length; from += 32) {
      int to = Math.min(indices.length, from + 32);
      List<String> texts = new java.util.ArrayList<>();
      for (int i = from; i < to; i++) {
        texts.add(reader.text(indices[i]));
      }
      TokenBatch t = tokenizer.encode(texts);
      long[] shape = {t.batch(), t.length()};
      Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
      try {
        for (String name : session.getInputNames()) {
          feeds.put(
              name, OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(t.input(name)), shape));
        }
        try (OrtSession.Result r = session.run(feeds, Set.of("last_hidden_state"))) {
          float[][][] h = (float[][][]) r.get(0).getValue();
          for (int b = 0; b < t.batch(); b++) {
            double[] pooled = new double[h[b][0].length];
            double count = 0;
            for (int k = 0; k < t.length(); k++) {
              if (t.attentionMask()[b * t.length() + k] == 1) {
                count++;
                for (int j = 0; j < pooled.length; j++) {
                  pooled[j] += h[b][k][j];
                }
              }
            }
            double norm = 0;
            for (int j = 0; j < pooled.length; j++) {
              pooled[j] /= Math.max(count, 1e-9);
              norm += pooled[j] * pooled[j];
            }
            norm = Math.max(Math.sqrt(norm), 1e-12);
            for (int j = 0; j < pooled.length; j++) {
              pooled[j] /= norm;
            }
            out[from + b] = pooled;
          }
        }
      } finally {
        feeds.values().forEach(OnnxTensor::close);
      }
    }
    return out;
  }

  /**
   * Minimises C * sum(log-loss) + |w|^2 / 2 (the intercept unpenalised), scikit-learn's objective,
   * by Newton steps with a Cholesky solve. Returns [w..., b].
   */
  static double[] newtonLogistic(double[][] x, int[] y, double c) {
    int n = x.length;
    int d = x[0].length + 1;
    double[] w = new double[d];
    for (int iteration = 0; iteration < 50; iteration++) {
      double[] g = new double[d];
      double[][] hess = new double[d][d];
      for (int j = 0; j < d - 1; j++) {
        g[j] = w[j];
        hess[j][j] = 1;
      }
      for (int i = 0; i < n; i++) {
        double p = 1 / (1 + Math.exp(-score(w, x[i])));
        double r = c * (p - y[i]);
        double s = c * p * (1 - p);
        for (int j = 0; j < d; j++) {
          double xj = j < d - 1 ? x[i][j] : 1;
          g[j] += r * xj;
          for (int k = 0; k <= j; k++) {
            hess[j][k] += s * xj * (k < d - 1 ? x[i][k] : 1);
          }
        }
      }
      hess[d - 1][d - 1] += 1e-9;
      double[] step = choleskySolve(hess, g);
      double size = 0;
      for (int j = 0; j < d; j++) {
        w[j] -= step[j];
        size = Math.max(size, Math.abs(step[j]));
      }
      if (size < 1e-8) {
        break;
      }
    }
    return w;
  }

  /** Solves A z = b for a symmetric positive definite A given by its lower triangle. */
  private static double[] choleskySolve(double[][] a, double[] b) {
    int d = b.length;
    double[][] l = new double[d][d];
    for (int j = 0; j < d; j++) {
      double sum = a[j][j];
      for (int k = 0; k < j; k++) {
        sum -= l[j][k] * l[j][k];
      }
      l[j][j] = Math.sqrt(sum);
      for (int i = j + 1; i < d; i++) {
        double v = a[i][j];
        for (int k = 0; k < j; k++) {
          v -= l[i][k] * l[j][k];
        }
        l[i][j] = v / l[j][j];
      }
    }
    double[] z = new double[d];
    for (int i = 0; i < d; i++) {
      double v = b[i];
      for (int k = 0; k < i; k++) {
        v -= l[i][k] * z[k];
      }
      z[i] = v / l[i][i];
    }
    for (int i = d - 1; i >= 0; i--) {
      double v = z[i];
      for (int k = i + 1; k < d; k++) {
        v -= l[k][i] * z[k];
      }
      z[i] = v / l[i][i];
    }
    return z;
  }

  private static double score(double[] w, double[] x) {
    double s = w[w.length - 1];
    for (int j = 0; j < x.length; j++) {
      s += w[j] * x[j];
    }
    return s;
  }

  private static double accuracy(double[] w, double[][] x, int[] y) {
    int right = 0;
    for (int i = 0; i < x.length; i++) {
      right += (score(w, x[i]) > 0 ? 1 : 0) == y[i] ? 1 : 0;
    }
    return (double) right / x.length;
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
