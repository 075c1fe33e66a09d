package dev.graft.training;

import ai.djl.Device;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.graft.core.GraftException;
import dev.graft.data.Dataset;
import dev.graft.data.DatasetReader;
import dev.graft.data.Splits;
import dev.graft.model.CutPoints;
import dev.graft.text.TextTokenizer;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Linear probes at every cut point of a base model: the frozen backbone runs once over the training
 * and validation examples in ONNX Runtime, on one graph whose outputs are the pooled features of
 * every cut point ({@link CutPoints#pooledOutputs}); then a converged linear probe ({@link
 * SoftmaxRegression}, L-BFGS with the L2 strength picked on the validation split, exactly the head
 * fit of a default TRANSFER_LEARNING run) is fitted per cut point on those cached features, the cut
 * points in parallel.
 *
 * <p>The examples are those a run with the same split fractions, seed and max_train_examples trains
 * and validates on ({@link Splits}, {@link TrainingJob#limit}), so the probe at the last cut point
 * is that run's validation accuracy.
 */
@ApplicationScoped
public class LayerProbes {

  /**
   * What to probe.
   *
   * @param baseModel base model name
   * @param dataset dataset name
   * @param split validation and test fractions (0: the run defaults), max_train_examples
   * @param seed seed of the split (0: 42, as for runs)
   * @param cutPoints cut points to probe, by block or tensor name; empty for all
   * @param maxSequenceLength text encoders: tokens per text (0: 128, as for runs)
   */
  public record Request(
      String baseModel,
      String dataset,
      RunSpec.Split split,
      long seed,
      List<String> cutPoints,
      int maxSequenceLength) {}

  /**
   * One cut point's probe.
   *
   * @param cut the cut point
   * @param valAccuracy validation accuracy of the chosen probe
   * @param valLoss its validation cross-entropy
   * @param l2 the L2 strength picked on validation
   * @param seconds wall time of the fit (the L2 search included)
   */
  public record Probe(
      CutPoints.CutPoint cut, double valAccuracy, double valLoss, double l2, double seconds) {}

  /**
   * The sweep.
   *
   * @param probes one per cut point, in graph order
   * @param best the name of the cut point with the best validation accuracy (ties: lower loss, then
   *     the earlier, smaller model)
   * @param featureSeconds the one pass over the examples, graph build and session included
   * @param trainExamples examples the probes train on
   * @param validationExamples examples they are validated on
   * @param splitHash the split's hash, as a run on it records
   * @param provider where ONNX Runtime ran
   */
  public record Result(
      List<Probe> probes,
      String best,
      double featureSeconds,
      int trainExamples,
      int validationExamples,
      String splitHash,
      String provider) {}

  private final ModelFactory models;
  private final RunStore store;

  LayerProbes(ModelFactory models, RunStore store) {
    this.models = models;
    this.store = store;
  }

  /**
   * Probes the cut points of a base model on a dataset.
   *
   * @throws GraftException.InvalidArgument for bad split values or an unknown cut point (the
   *     message lists the valid ones)
   * @throws GraftException.NotFound for an unknown base model or dataset
   * @throws GraftException.FailedPrecondition when the dataset does not fit the model or has fewer
   *     than 2 classes
   */
  public Result probe(Request r) {
    RunSpec spec =
        new RunSpec(
                0,
                "probe",
                r.baseModel(),
                "",
                r.dataset(),
                Strategy.TRANSFER_LEARNING,
                0,
                List.of(),
                new RunSpec.Head(List.of(), "", 0f),
                new RunSpec.Hyper("", 0, 0, 0, 0, "", 0, 0, 0, 0, 0, 0, null, false, false, false),
                r.split(),
                r.seed(),
                "CPU",
                "")
            .withDefaults()
            .validate();
    Dataset dataset = store.dataset(spec.dataset());
    ModelFactory.Backbone backbone = models.backbone(spec.baseModel());
    if (dataset.classNames.size() < 2) {
      throw new GraftException.FailedPrecondition(
          "dataset '"
              + dataset.name
              + "' has "
              + dataset.classNames.size()
              + " class; a probe needs at least 2");
    }
    models.preflight(spec, dataset);
    List<CutPoints.CutPoint> cuts = select(backbone, r.cutPoints());
    try (DatasetReader reader = DatasetReader.open(models.resolve(dataset.storagePath))) {
      Splits.Split split =
          Splits.split(
              reader,
              dataset.sha256,
              new Splits.Fractions(
                  1 - spec.split().validationFraction() - spec.split().testFraction(),
                  spec.split().validationFraction(),
                  spec.split().testFraction()),
              spec.seed());
      int[] train =
          TrainingJob.limit(
              split.train(), reader.labels(), spec.split().maxTrainExamples(), spec.seed());
      if (train.length == 0 || split.validation().length == 0) {
        throw new GraftException.FailedPrecondition(
            "dataset '"
                + dataset.name
                + "' leaves "
                + train.length
                + " training and "
                + split.validation().length
                + " validation examples with this split; use a larger dataset or other fractions");
      }
      // try-with-resources skips a null resource: only text encoders hold a tokenizer.
      try (TextTokenizer tokenizer =
          backbone.text()
              ? TextTokenizer.load(
                  models.tokenizerOf(backbone.base()), spec.hyper().maxSequenceLength())
              : null) {
        ModelProto graph = CutPoints.pooledOutputs(backbone.backbone(), cuts);
        BatchSource source =
            tokenizer != null
                ? BatchSource.text(
                    TrainingJob.textExamples(reader, dataset),
                    tokenizer,
                    Features.inputNames(graph))
                : BatchSource.of(reader, backbone.preprocessing(), false, false);
        Sweep sweep =
            sweep(
                graph,
                cuts,
                source,
                reader.labels(),
                train,
                split.validation(),
                reader.classNames().size(),
                reader.size(),
                new CancelToken());
        return new Result(
            sweep.probes(),
            best(sweep.probes()),
            sweep.featureSeconds(),
            train.length,
            split.validation().length,
            split.hash(),
            sweep.provider());
      }
    }
  }

  private static List<CutPoints.CutPoint> select(
      ModelFactory.Backbone backbone, List<String> names) {
    if (names.isEmpty()) {
      return backbone.cuts();
    }
    Set<CutPoints.CutPoint> chosen = new LinkedHashSet<>();
    for (String name : names) {
      if (name.isBlank()) {
        throw new GraftException.InvalidArgument(
            "cut_points must not contain empty names; use one of "
                + CutPoints.describe(backbone.cuts()));
      }
      chosen.add(CutPoints.resolve(backbone.cuts(), name.strip(), backbone.base().name));
    }
    // In graph order, whatever the request's order.
    return backbone.cuts().stream().filter(chosen::contains).toList();
  }

  private static String best(List<Probe> probes) {
    Probe best = null;
    for (Probe p : probes) {
      if (best == null
          || p.valAccuracy() > best.valAccuracy() + 1e-12
          || (Math.abs(p.valAccuracy() - best.valAccuracy()) <= 1e-12
              && p.valLoss() < best.valLoss())) {
        best = p;
      }
    }
    return best == null ? "" : best.cut().name();
  }

  /**
   * The probes and what the pass cost.
   *
   * @param featureSeconds the pass: session and every batch
   * @param provider where ONNX Runtime ran
   */
  record Sweep(List<Probe> probes, double featureSeconds, String provider) {}

  /**
   * One ONNX Runtime pass for every cut point's pooled features, then one probe per cut point.
   *
   * @param graph {@link CutPoints#pooledOutputs} of the backbone and {@code cuts}
   */
  static Sweep sweep(
      ModelProto graph,
      List<CutPoints.CutPoint> cuts,
      BatchSource source,
      int[] labels,
      int[] train,
      int[] validation,
      int classes,
      int datasetSize,
      CancelToken token) {
    long start = System.nanoTime();
    List<String> outputs = new ArrayList<>();
    for (int i = 0; i < cuts.size(); i++) {
      outputs.add(CutPoints.pooledOutput(i));
    }
    FeatureInputs inputs = FeatureInputs.of(source, Features.inputNames(graph));
    int[] indices = union(train, validation);
    float[][][] features = new float[cuts.size()][datasetSize][];
    String provider;
    try (OrtFeatures ort = new OrtFeatures(graph, Device.cpu())) {
      provider = ort.provider();
      int batch = Math.min(Features.BATCH, inputs.batchLimit());
      for (int from = 0; from < indices.length; from += batch) {
        token.check();
        int[] idx = Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batch));
        float[][][] rows = ort.extractAll(inputs.batch(idx), outputs);
        for (int c = 0; c < cuts.size(); c++) {
          for (int i = 0; i < idx.length; i++) {
            features[c][idx[i]] = rows[c][i];
          }
        }
      }
    }
    double featureSeconds = (System.nanoTime() - start) / 1e9;
    int[] trainY = pick(labels, train);
    int[] valY = pick(labels, validation);
    // The probes are independent: fitted in parallel, each deterministic.
    List<Probe> probes =
        java.util.stream.IntStream.range(0, cuts.size())
            .parallel()
            .mapToObj(
                c -> {
                  long t0 = System.nanoTime();
                  float[][] trainX = rows(features[c], train);
                  float[][] valX = rows(features[c], validation);
                  SoftmaxRegression.Selection s =
                      SoftmaxRegression.fitAndSelect(trainX, trainY, valX, valY, classes, token);
                  Evaluation val = SoftmaxRegression.evaluate(s.head(), valX, valY, classes);
                  return new Probe(
                      cuts.get(c),
                      val.accuracy(),
                      val.loss(),
                      s.head().l2(),
                      (System.nanoTime() - t0) / 1e9);
                })
            .toList();
    return new Sweep(List.copyOf(probes), featureSeconds, provider);
  }

  private static float[][] rows(float[][] byExample, int[] indices) {
    float[][] out = new float[indices.length][];
    for (int i = 0; i < indices.length; i++) {
      out[i] = byExample[indices[i]];
    }
    return out;
  }

  private static int[] pick(int[] labels, int[] indices) {
    int[] out = new int[indices.length];
    for (int i = 0; i < indices.length; i++) {
      out[i] = labels[indices[i]];
    }
    return out;
  }

  private static int[] union(int[] a, int[] b) {
    return java.util.stream.IntStream.concat(Arrays.stream(a), Arrays.stream(b))
        .distinct()
        .sorted()
        .toArray();
  }
}
