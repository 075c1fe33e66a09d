package dev.graft.training;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OrtEnvironment;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.core.Artifacts;
import dev.graft.core.GraftException;
import dev.graft.core.StorageConfig;
import dev.graft.data.Dataset;
import dev.graft.data.DatasetReader;
import dev.graft.data.Preprocessing;
import dev.graft.data.Splits;
import dev.graft.model.BaseModels;
import dev.graft.model.FreezeSpec;
import dev.graft.model.GraphSurgery;
import dev.graft.model.ModelVersionInfo;
import dev.graft.model.ModelVersions;
import dev.graft.model.NewModelVersion;
import dev.graft.model.ParameterCounts;
import dev.graft.onnx.OnnxBlock;
import dev.graft.onnx.OnnxExporter;
import dev.graft.onnx.ParityGate;
import dev.graft.text.TextTokenizer;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * One run from start to registered model: split, graft, train (with the feature cache when the
 * backbone is frozen and nothing augments), test, export, parity gate, model version.
 */
@ApplicationScoped
public class TrainingJob {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final org.jboss.logging.Logger LOG =
      org.jboss.logging.Logger.getLogger(TrainingJob.class);

  private final RunStore store;
  private final RunEventHub events;
  private final ModelFactory models;
  private final RunPublisher publisher;
  private final BaseModels baseModels;
  private final StorageConfig storage;
  private final TrainingConfig config;
  private final String graftVersion;

  TrainingJob(
      RunStore store,
      RunEventHub events,
      ModelFactory models,
      RunPublisher publisher,
      BaseModels baseModels,
      StorageConfig storage,
      TrainingConfig config,
      @ConfigProperty(name = "quarkus.application.version", defaultValue = "dev")
          String graftVersion) {
    this.store = store;
    this.events = events;
    this.models = models;
    this.publisher = publisher;
    this.baseModels = baseModels;
    this.storage = storage;
    this.config = config;
    this.graftVersion = graftVersion;
  }

  /**
   * The versions a run records when it is queued: only what the queueing process knows without
   * loading a native library (an api process loads neither libtorch nor ONNX Runtime). The trainer
   * that trains the run replaces them with its own {@link #versions()}.
   */
  public Map<String, String> queuedVersions() {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("graft", graftVersion);
    v.put("djl", Engine.getDjlVersion());
    v.put("java", System.getProperty("java.version"));
    return v;
  }

  /** Library versions of the process that trains: recorded with the run, written into its model. */
  public Map<String, String> versions() {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("graft", graftVersion);
    v.put("djl", Engine.getDjlVersion());
    v.put("pytorch", Engine.getInstance().getVersion());
    v.put("onnxruntime", OrtEnvironment.getEnvironment().getVersion());
    v.put("java", System.getProperty("java.version"));
    return v;
  }

  void run(long runId, CancelToken token) {
    RunView run = store.view(runId);
    RunSpec spec = run.spec();
    if (spec.strategy() == Strategy.PRETRAINING
        && baseModels.exists(spec.modelName())
        && !baseModels.existsForRun(spec.modelName(), runId)) {
      // Taken since the run was queued: fail now rather than after training.
      throw new GraftException.AlreadyExists(
          "a base model named '"
              + spec.modelName()
              + "' was registered after this run was queued; start a new run with another name");
    }
    Dataset dataset = store.dataset(spec.dataset());
    Path runDir = storage.area("runs").resolve(String.valueOf(runId));
    MemoryWatch memory = new MemoryWatch();
    try (DatasetReader reader = DatasetReader.open(models.resolve(dataset.storagePath))) {
      List<String> labels = reader.classNames();
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
          limit(split.train(), reader.labels(), spec.split().maxTrainExamples(), spec.seed());
      long[] exampleShape = reader.shape().stream().mapToLong(Long::longValue).toArray();
      GraftedModel grafted = models.build(spec, labels, exampleShape);
      // try-with-resources skips a null resource: only text runs hold a tokenizer.
      try (TextTokenizer tokenizer =
          grafted.text() == null
              ? null
              : TextTokenizer.load(grafted.text().tokenizer(), grafted.text().maxLength())) {
        Device device = DeviceSelector.select(spec.device(), Engine.getInstance().getGpuCount());
        boolean cache = spec.strategy() == Strategy.TRANSFER_LEARNING && !spec.hyper().augments();
        ParameterCounts counts = grafted.freeze().counts(grafted.graph());
        store.started(
            runId,
            device.toString(),
            split.hash(),
            counts.trainable(),
            counts.total(),
            cache,
            labels);
        store.trainedWith(runId, versions());
        BatchSource raw =
            tokenizer != null
                ? BatchSource.text(
                    textExamples(reader, dataset), tokenizer, grafted.text().inputs())
                : BatchSource.of(
                    reader,
                    grafted.preprocessing(),
                    spec.hyper().augmentRandomCrop(),
                    spec.hyper().augmentHorizontalFlip());
        String textNote = tokenizer == null ? "" : truncationNote(raw, train, tokenizer, token);
        float[] classWeights =
            spec.hyper().classWeighting()
                ? classWeights(reader.labels(), train, labels.size())
                : null;
        Checkpoint checkpoint = new Checkpoint(runDir);
        RunSpec.Hyper h = spec.hyper();
        // With the automatic budget a linear head on frozen features is fitted by a solver: the
        // whole of TRANSFER_LEARNING, and the linear-probe phase of GRADUAL (LP-FT).
        boolean solver =
            h.automatic()
                && spec.head().hiddenSizes().isEmpty()
                && !h.augments()
                && !h.classWeighting()
                && (spec.strategy() == Strategy.TRANSFER_LEARNING
                    || spec.strategy() == Strategy.GRADUAL);
        boolean probeFirst = solver && spec.strategy() == Strategy.GRADUAL;
        long[] featureShape = null;
        float[][] features = null;
        TrainingPlan.FeatureCache featureCache = null;
        if (cache || probeFirst) {
          featureShape = GraphSurgery.featureShape(grafted.graph(), grafted.featureTensor());
          Features.Result cached =
              Features.compute(
                  GraphSurgery.cut(grafted.graph(), grafted.featureTensor()),
                  raw,
                  union(train, split.validation()),
                  reader.size(),
                  device,
                  token,
                  config.featureEngine(),
                  config.parityTolerance());
          features = cached.features();
          featureCache = cached.info();
        }
        ModelProto trained;
        if (solver && !probeFirst) {
          events.publish(
              runId,
              seq ->
                  new RunEvent.PhaseStarted(
                      runId, seq, RunEventHub.now(), "linear-probe", SOLVER_DETAIL));
          HeadSolver.Result fit =
              HeadSolver.fit(
                  grafted.graph(),
                  features,
                  featureShape,
                  reader.labels(),
                  train,
                  split.validation(),
                  labels.size(),
                  token);
          TrainingPlan plan =
              new TrainingPlan(
                  0,
                  0,
                  0,
                  train.length,
                  0,
                  "none: L-BFGS needs no learning rate",
                  "",
                  0,
                  0,
                  false,
                  0,
                  "L-BFGS",
                  fit.selection().head().l2(),
                  List.of(fit.search()),
                  List.of("linear-probe"),
                  SOLVER_REASON + textNote);
          recordPlan(runId, plan.withFeatureCache(featureCache));
          listener(
                  runId,
                  spec.withHyper(h.resolved(1, 0, "CONSTANT", 0, 0, h.earlyStopping())),
                  memory)
              .epochEnded(1, fit.metrics(""));
          trained = fit.graph();
        } else {
          ModelProto start = grafted.graph();
          HeadSolver.Result probe = null;
          List<String> phases = new ArrayList<>();
          if (probeFirst) {
            events.publish(
                runId,
                seq ->
                    new RunEvent.PhaseStarted(
                        runId, seq, RunEventHub.now(), "linear-probe", SOLVER_DETAIL));
            probe =
                HeadSolver.fit(
                    grafted.graph(),
                    features,
                    featureShape,
                    reader.labels(),
                    train,
                    split.validation(),
                    labels.size(),
                    token);
            start = probe.graph();
            Map<String, Double> values = probe.metrics("probe_");
            store.epoch(runId, 0, values);
            events.publish(
                runId, seq -> new RunEvent.EpochEnded(runId, seq, RunEventHub.now(), 0, values));
            phases.add("linear-probe");
            features = null; // the fine-tuning phase trains on the images
          }
          // With a frozen backbone the head trains on features computed once; else on the images.
          BatchSource source = raw;
          ModelProto graph = start;
          if (cache) {
            source = BatchSource.cached(features, reader.labels(), featureShape);
            graph = HeadGraph.extract(start, grafted.featureTensor(), featureShape);
          }
          TrainingPlan chosen =
              run.plan() != null
                  ? run.plan()
                  : plan(
                      spec,
                      grafted.text() != null,
                      train,
                      cache,
                      probe,
                      phases,
                      graph,
                      cache ? FreezeSpec.none() : grafted.freezeAt(0, probeFirst ? 0 : 1),
                      source,
                      classWeights,
                      labels.size(),
                      device,
                      token);
          TrainingPlan plan = run.plan() == null ? noted(chosen, textNote) : chosen;
          if (run.plan() == null) {
            recordPlan(runId, plan.withFeatureCache(featureCache));
          }
          RunSpec effective =
              spec.withHyper(
                  h.resolved(
                      plan.epochs(),
                      plan.learningRate(),
                      plan.schedule(),
                      plan.warmupEpochs(),
                      plan.headEpochs(),
                      new RunSpec.EarlyStop(
                          plan.earlyStopping(),
                          h.earlyStopping().metric(),
                          Math.max(1, plan.patience()),
                          h.earlyStopping().minDelta(),
                          h.earlyStopping().restoreBest())));
          String phase = plan.phases().get(plan.phases().size() - 1);
          events.publish(
              runId,
              seq ->
                  new RunEvent.PhaseStarted(
                      runId,
                      seq,
                      RunEventHub.now(),
                      phase,
                      String.format(
                          java.util.Locale.ROOT,
                          "%d epochs at most, learning rate %.3g (%s), %s",
                          plan.epochs(),
                          plan.learningRate(),
                          plan.learningRateSource(),
                          plan.schedule())));
          TrainingLoop loop =
              new TrainingLoop(
                  effective,
                  device,
                  source,
                  train,
                  split.validation(),
                  classWeights,
                  labels.size(),
                  checkpoint,
                  token,
                  listener(runId, effective, memory),
                  config.progressIntervalMs());
          int headEpochs = effective.hyper().headEpochs();
          trained =
              cache
                  ? HeadGraph.merge(start, loop.run(graph, epoch -> FreezeSpec.none()))
                  : probeFirst
                      ? loop.run(
                          graph, epoch -> grafted.freeze(), probe.validation().metrics("val"))
                      : loop.run(graph, epoch -> grafted.freezeAt(epoch, headEpochs));
        }
        token.check();
        finish(runId, run, spec, grafted, trained, raw, split, runDir, memory);
      }
    }
  }

  /** The examples of a text dataset as a text run reads them. */
  static dev.graft.text.TextExamples textExamples(DatasetReader reader, Dataset dataset) {
    if (reader.kind() != dev.graft.data.DatasetKind.TEXT) {
      throw new GraftException.FailedPrecondition(
          "dataset '"
              + dataset.name
              + "' holds "
              + (reader.kind() == dev.graft.data.DatasetKind.IMAGE ? "images" : "feature vectors")
              + ", not texts; a text base model trains on a TEXT dataset");
    }
    int[] labels = reader.labels();
    return new dev.graft.text.TextExamples() {
      @Override
      public int size() {
        return reader.size();
      }

      @Override
      public String text(int i) {
        return reader.text(i);
      }

      @Override
      public int label(int i) {
        return labels[i];
      }
    };
  }

  /**
   * How many training texts the max sequence length cuts, said in the plan: a model that only sees
   * the start of most texts is worth knowing about.
   */
  static String truncationNote(
      BatchSource text, int[] train, TextTokenizer tokenizer, CancelToken token) {
    int truncated = 0;
    long tokens = 0;
    for (int from = 0; from < train.length; from += 256) {
      token.check();
      int[] idx = Arrays.copyOfRange(train, from, Math.min(train.length, from + 256));
      dev.graft.text.TokenBatch b = text.batch(idx, false, null).tokens();
      truncated += b.truncatedCount();
      for (int t : b.tokens()) {
        tokens += t;
      }
    }
    return String.format(
        java.util.Locale.ROOT,
        "; text: max_sequence_length %d, %d of %d training texts truncated (%.1f%%), %.1f tokens"
            + " per text on average, batches padded to their longest text",
        tokenizer.maxLength(),
        truncated,
        train.length,
        100.0 * truncated / Math.max(1, train.length),
        (double) tokens / Math.max(1, train.length));
  }

  private static TrainingPlan noted(TrainingPlan p, String note) {
    if (note.isEmpty()) {
      return p;
    }
    return new TrainingPlan(
        p.epochs(),
        p.stepsPerEpoch(),
        p.maxSteps(),
        p.trainExamples(),
        p.learningRate(),
        p.learningRateSource(),
        p.schedule(),
        p.warmupEpochs(),
        p.headEpochs(),
        p.earlyStopping(),
        p.patience(),
        p.headFit(),
        p.l2(),
        p.l2Search(),
        p.phases(),
        p.reason() + note);
  }

  private static final String SOLVER_DETAIL =
      "multinomial logistic regression on the frozen backbone's features, fitted to convergence by"
          + " L-BFGS, L2 strength picked on the validation split";
  private static final String SOLVER_REASON =
      "epochs 0 with a linear head on frozen features: the head is fitted to convergence by L-BFGS"
          + " (gradient max-abs < 1e-5, at most 300 iterations per L2 strength) for each L2 in"
          + " {1, 1e-1, ..., 1e-6} on standardised features, the best validation accuracy kept"
          + " (CLIP's linear-probe protocol)";

  private void recordPlan(long runId, TrainingPlan plan) {
    store.planned(runId, plan);
    events.publish(runId, seq -> new RunEvent.PlanChosen(runId, seq, RunEventHub.now(), plan));
    LOG.infof("Run %d plan: %s", runId, plan);
  }

  /**
   * The plan of a run that trains by gradient: as requested, or with {@code epochs: 0} the {@link
   * Budget} for the data size, the range test's rate when {@code learning_rate} is 0, warm-up and
   * cosine decay in place of a CONSTANT schedule without warm-up, and the budget's patience.
   */
  private static TrainingPlan plan(
      RunSpec spec,
      boolean text,
      int[] train,
      boolean cached,
      HeadSolver.Result probe,
      List<String> phasesBefore,
      ModelProto graph,
      FreezeSpec firstFreeze,
      BatchSource source,
      float[] classWeights,
      int classes,
      Device device,
      CancelToken token) {
    RunSpec.Hyper h = spec.hyper();
    int steps = Budget.stepsPerEpoch(train.length, h.batchSize());
    List<String> phases = new ArrayList<>(phasesBefore);
    switch (spec.strategy()) {
      case TRANSFER_LEARNING -> phases.add(cached ? "head (cached features)" : "head");
      case GRADUAL -> {
        if (probe == null) {
          phases.add("head");
        }
        phases.add("fine-tune");
      }
      case FINE_TUNING -> phases.add("fine-tune");
      default -> phases.add("train");
    }
    double l2 = probe == null ? 0 : probe.selection().head().l2();
    List<TrainingPlan.L2Point> search = probe == null ? List.of() : List.of(probe.search());
    String headFit = probe == null ? "gradient" : "L-BFGS, then gradient";
    RunSpec.EarlyStop es = h.earlyStopping();
    if (!h.automatic()) {
      return new TrainingPlan(
          h.epochs(),
          steps,
          (long) steps * h.epochs(),
          train.length,
          h.learningRate(),
          "as requested (or the optimizer's default)",
          h.schedule(),
          h.warmupEpochs(),
          h.headEpochs(),
          es.enabled(),
          es.patience(),
          headFit,
          l2,
          search,
          phases,
          "epochs " + h.epochs() + " as requested");
    }
    // A text encoder trained by gradient: BERT's few epochs, not the image budget's hundreds.
    boolean textBudget = text && !cached;
    int epochs =
        textBudget
            ? Budget.textEpochs(train.length)
            : Budget.epochs(train.length, h.batchSize(), cached);
    String schedule = h.schedule();
    int warmup = h.warmupEpochs();
    if ("CONSTANT".equals(schedule) && warmup == 0) {
      schedule = "COSINE";
      warmup = Budget.warmupEpochs(epochs);
    }
    warmup = Math.min(warmup, epochs - 1);
    int headEpochs = 0;
    if (spec.strategy() == Strategy.GRADUAL && probe == null) {
      headEpochs =
          h.headEpochs() > 0 ? Math.min(h.headEpochs(), epochs - 1) : Math.max(1, epochs / 4);
    }
    int patience = es.enabled() && es.patience() == 0 ? Budget.patience(epochs) : es.patience();
    double rate = h.learningRate();
    String rateSource = "given";
    if (rate == 0 && textBudget) {
      // A range test costs a hundred encoder steps, minutes on a CPU; BERT practice is known.
      boolean slowed = spec.strategy().slowsBackbone();
      rate = slowed ? Budget.TEXT_ENCODER_RATE / h.backboneLrMultiplier() : 5e-4;
      rateSource =
          slowed
              ? String.format(
                  java.util.Locale.ROOT,
                  "text default: encoder %.0e (BERT fine-tuning) = head %.3g x multiplier %.3g",
                  Budget.TEXT_ENCODER_RATE,
                  rate,
                  h.backboneLrMultiplier())
              : "text default: 5e-4 for an encoder trained from random weights";
    } else if (rate == 0) {
      RangeTest.Result found =
          RangeTest.run(
              graph,
              firstFreeze,
              h,
              spec.strategy().slowsBackbone() ? GraphSurgery::isHead : name -> true,
              spec.seed(),
              device,
              source,
              train,
              classWeights,
              classes,
              token);
      rate = found.rate();
      rateSource = found.describe();
    }
    return new TrainingPlan(
        epochs,
        steps,
        (long) steps * epochs,
        train.length,
        rate,
        rateSource,
        schedule,
        warmup,
        headEpochs,
        es.enabled(),
        patience,
        headFit,
        l2,
        search,
        phases,
        (textBudget
                ? Budget.textReason(train.length, h.batchSize(), es)
                : Budget.reason(train.length, h.batchSize(), cached, es))
            + (warmup > 0 && !schedule.equals(h.schedule())
                ? "; CONSTANT without warm-up becomes " + warmup + " warm-up epochs + cosine decay"
                : ""));
  }

  private TrainingLoop.Listener listener(long runId, RunSpec spec, MemoryWatch memory) {
    int epochs = spec.hyper().epochs();
    long started = System.nanoTime();
    return new TrainingLoop.Listener() {
      @Override
      public void progress(
          int epoch, int done, int total, double examplesPerSecond, double trainLoss) {
        memory.sample();
        double elapsed = (System.nanoTime() - started) / 1e9;
        double fraction = ((epoch - 1) + (double) done / total) / epochs;
        double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
        events.publish(
            runId,
            seq ->
                new RunEvent.Progress(
                    runId,
                    seq,
                    RunEventHub.now(),
                    epoch,
                    epochs,
                    done,
                    total,
                    examplesPerSecond,
                    eta,
                    trainLoss));
      }

      @Override
      public void epochEnded(int epoch, Map<String, Double> values) {
        memory.sample();
        LOG.infof("Run %d epoch %d/%d: %s", runId, epoch, epochs, values);
        store.epoch(runId, epoch, values);
        events.publish(
            runId, seq -> new RunEvent.EpochEnded(runId, seq, RunEventHub.now(), epoch, values));
      }
    };
  }

  /** Test metrics, export, parity gate and registration of the trained graph. */
  private void finish(
      long runId,
      RunView run,
      RunSpec spec,
      GraftedModel grafted,
      ModelProto trained,
      BatchSource raw,
      Splits.Split split,
      Path runDir,
      MemoryWatch memory) {
    List<String> labels = grafted.labels();
    String modelName = spec.modelName().isEmpty() ? "run-" + runId : spec.modelName();
    Path onnx = runDir.resolve("model.onnx");
    try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
      OnnxBlock block = new OnnxBlock(trained, name -> false);
      block.initialize(manager, DataType.FLOAT32, raw.initShapes());
      ParameterStore parameters = new ParameterStore(manager, false);
      Evaluation test = new Evaluation(labels.size());
      int[] testIdx = split.test();
      int step = Math.min(256, raw.inferenceBatchLimit());
      for (int from = 0; from < testIdx.length; from += step) {
        int[] idx = Arrays.copyOfRange(testIdx, from, Math.min(testIdx.length, from + step));
        BatchSource.Batch b = raw.batch(idx, false, null);
        try (NDManager m = manager.newSubManager()) {
          NDArray logits = block.forward(parameters, raw.arrays(m, b), false).singletonOrThrow();
          Losses.accumulate(test, logits, b.labels(), labels.size());
        }
      }
      Map<String, Double> testMetrics = test.metrics("test");
      store.tested(
          runId,
          testMetrics,
          Arrays.stream(test.confusion()).boxed().toList(),
          test.count(),
          memory.peak());

      Map<String, String> metadata = metadata(runId, spec, grafted, modelName, split);
      OnnxExporter.export(block, metadata, onnx);
      int[] parityIdx =
          Arrays.copyOf(
              split.validation(),
              Math.min(
                  split.validation().length,
                  Math.min(config.parityBatchSize(), raw.inferenceBatchLimit())));
      BatchSource.Batch pb = raw.batch(parityIdx, false, null);
      ParityGate.Result parity;
      try (NDManager m = manager.newSubManager()) {
        // Text batches are padded to their longest text, so the gate sees padded rows too.
        parity = ParityGate.check(block, raw.arrays(m, pb), onnx, config.parityTolerance());
      }
      String sha256 = Artifacts.sha256(onnx);
      if (!parity.passed()) {
        events.publish(
            runId,
            seq ->
                new RunEvent.Exported(
                    runId, seq, RunEventHub.now(), "", sha256, parity.maxAbsDiff(), false));
        throw new GraftException.FailedPrecondition(
            "parity gate failed: DJL and ONNX Runtime differ by "
                + parity.maxAbsDiff()
                + " on output '"
                + parity.worstOutput()
                + "', more than the tolerance "
                + parity.tolerance()
                + "; no model version was registered");
      }
      ModelVersionInfo version =
          publisher.publish(
              new RunPublisher.Publication(
                  runId,
                  new NewModelVersion(
                      modelName,
                      onnx,
                      labels,
                      inputSpec(block, grafted),
                      parity.maxAbsDiff(),
                      metadata,
                      runId,
                      null,
                      grafted.text() == null
                          ? Map.of()
                          : Map.of(TextTokenizer.FILE_NAME, grafted.text().tokenizer())),
                  spec.strategy() == Strategy.PRETRAINING
                      ? baseModel(
                          runId, spec, grafted, onnx, inputSpec(block, grafted), testMetrics)
                      : null,
                  memory.peak()));
      String ref = version.modelName() + ":" + version.version();
      events.publish(
          runId,
          seq ->
              new RunEvent.Exported(
                  runId, seq, RunEventHub.now(), ref, version.sha256(), parity.maxAbsDiff(), true));
    }
  }

  /** A finished pre-training becomes a base model: its classifier, to be cut at its features. */
  @SuppressWarnings("unchecked")
  private BaseModels.NewBaseModel baseModel(
      long runId,
      RunSpec spec,
      GraftedModel grafted,
      Path onnx,
      Map<String, Object> inputSpec,
      Map<String, Double> testMetrics) {
    Map<String, Object> preprocessing = Map.of();
    try {
      if (grafted.preprocessing() != null) {
        preprocessing = JSON.readValue(grafted.preprocessing().toJson(), Map.class);
      }
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    return new BaseModels.NewBaseModel(
        spec.modelName(),
        spec.architecture(),
        "PRETRAINED",
        onnx,
        grafted.featureTensor(),
        inputSpec,
        preprocessing,
        grafted.labels(),
        testMetrics,
        runId);
  }

  private Map<String, String> metadata(
      long runId, RunSpec spec, GraftedModel grafted, String modelName, Splits.Split split) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("graft.run_id", String.valueOf(runId));
    m.put("graft.model_name", modelName);
    m.put("graft.base_model", grafted.baseModelName());
    if (!grafted.baseModelName().isEmpty()) {
      m.put("graft.base_model_sha256", store.baseModel(grafted.baseModelName()).sha256);
    }
    m.put("graft.seed", String.valueOf(spec.seed()));
    m.put("graft.dataset", spec.dataset());
    m.put("graft.dataset_sha256", store.dataset(spec.dataset()).sha256);
    m.put("graft.split_hash", split.hash());
    m.put("graft.strategy", spec.strategy().name());
    m.put("graft.feature_tensor", grafted.featureTensor());
    m.put("graft.cut_point", spec.cutPoint().isEmpty() ? grafted.featureTensor() : spec.cutPoint());
    try {
      m.put(ModelVersions.LABELS_METADATA_KEY, JSON.writeValueAsString(grafted.labels()));
      m.put("graft.versions", JSON.writeValueAsString(versions()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    if (grafted.preprocessing() != null) {
      m.put(Preprocessing.METADATA_KEY, grafted.preprocessing().toJson());
    }
    if (grafted.text() != null) {
      m.put(TextInput.METADATA_KEY, grafted.text().metadataJson());
    }
    return m;
  }

  private static Map<String, Object> inputSpec(OnnxBlock block, GraftedModel grafted) {
    Map<String, Object> spec = new LinkedHashMap<>();
    if (grafted.text() != null) {
      spec.put("kind", "TEXT");
      spec.put("inputs", block.inputNames());
      spec.put("datatype", "INT64");
      spec.put("shape", List.of(-1L, -1L));
      spec.put("max_length", grafted.text().maxLength());
      return spec;
    }
    spec.put("name", block.inputNames().get(0));
    List<Long> shape = new ArrayList<>();
    shape.add(-1L);
    for (long d : grafted.inputShape()) {
      shape.add(d);
    }
    spec.put("shape", shape);
    spec.put("datatype", "FP32");
    spec.put("kind", grafted.preprocessing() == null ? "FEATURES" : "IMAGE");
    return spec;
  }

  /** A stratified, seeded subset of at most {@code max} training examples (0 = all). */
  static int[] limit(int[] train, int[] labels, int max, long seed) {
    if (max <= 0 || train.length <= max) {
      return train;
    }
    // Shuffle, then take round-robin by class so every class keeps its share.
    int[] shuffled = TrainingLoop.shuffled(train, seed ^ 0x5eed);
    Map<Integer, List<Integer>> byClass = new LinkedHashMap<>();
    for (int i : shuffled) {
      byClass.computeIfAbsent(labels[i], k -> new ArrayList<>()).add(i);
    }
    List<Integer> chosen = new ArrayList<>();
    for (List<Integer> members : byClass.values()) {
      long share = Math.round((double) members.size() * max / train.length);
      chosen.addAll(members.subList(0, (int) Math.min(share, members.size())));
    }
    return chosen.stream().mapToInt(Integer::intValue).sorted().toArray();
  }

  private static float[] classWeights(int[] labels, int[] train, int classes) {
    long[] counts = new long[classes];
    for (int i : train) {
      counts[labels[i]]++;
    }
    float[] w = new float[classes];
    for (int c = 0; c < classes; c++) {
      w[c] = counts[c] == 0 ? 0f : (float) train.length / (classes * counts[c]);
    }
    return w;
  }

  private static int[] union(int[] a, int[] b) {
    return IntStream.concat(Arrays.stream(a), Arrays.stream(b)).distinct().toArray();
  }
}
