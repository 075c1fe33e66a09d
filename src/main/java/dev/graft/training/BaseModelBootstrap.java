package dev.graft.training;

import dev.graft.data.DatasetSource;
import dev.graft.data.Datasets;
import dev.graft.data.RegisterRequest;
import dev.graft.experiments.ExperimentRepository;
import dev.graft.experiments.Experiments;
import dev.graft.experiments.RunStatus;
import dev.graft.model.BaseModels;
import dev.graft.onnx.OnnxImport;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Makes a fresh Graft useful without setup: pre-trains a vision base model ({@code cnn-small} on
 * Fashion-MNIST, or on synthetic shapes when Fashion-MNIST is absent) as an ordinary queued run,
 * and registers the MiniLM text encoder shipped on the classpath. Idempotent across restarts: an
 * interrupted pre-training is resumed, a finished one is not repeated.
 */
@ApplicationScoped
public class BaseModelBootstrap {

  static final String EXPERIMENT = "graft-bootstrap";
  static final String FASHION = "cnn-small-fashion-mnist";
  static final String SHAPES = "cnn-small-shapes";
  static final String MINILM = "all-minilm-l6-v2";
  static final String MINILM_TOKENIZER = "/all-minilm-l6-v2-tokenizer.json";
  static final List<String> FASHION_CLASSES =
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
  private static final Logger LOG = Logger.getLogger(BaseModelBootstrap.class);

  private final BootstrapConfig config;
  private final Datasets datasets;
  private final BaseModels baseModels;
  private final Experiments experiments;
  private final ExperimentRepository experimentRepository;
  private final Runs runs;
  private final RunStore store;
  private final dev.graft.core.ServiceRole role;

  BaseModelBootstrap(
      dev.graft.core.RoleConfig roles,
      BootstrapConfig config,
      Datasets datasets,
      BaseModels baseModels,
      Experiments experiments,
      ExperimentRepository experimentRepository,
      Runs runs,
      RunStore store) {
    this.role = roles.role();
    this.config = config;
    this.datasets = datasets;
    this.baseModels = baseModels;
    this.experiments = experiments;
    this.experimentRepository = experimentRepository;
    this.runs = runs;
    this.store = store;
  }

  /**
   * After the scheduler recovered its queue; the work itself runs in the background. Only the
   * control plane (roles api and all) bootstraps: the pre-training it queues is trained by a
   * trainer.
   */
  void onStart(@Observes @Priority(20) StartupEvent event) {
    if (!role.controls() || (!config.pretrain() && !config.registerMinilm())) {
      return;
    }
    Thread worker = new Thread(this::prepare, "graft-bootstrap");
    worker.setDaemon(true);
    worker.start();
  }

  void prepare() {
    try {
      if (config.registerMinilm()) {
        registerMinilm();
      }
      if (config.pretrain()) {
        pretrainVisionModel();
      }
    } catch (RuntimeException e) {
      LOG.error("Start-up preparation of base models failed; Graft runs without them", e);
    }
  }

  private void pretrainVisionModel() {
    if (baseModels.exists(FASHION) || baseModels.exists(SHAPES)) {
      return;
    }
    long experiment = experimentId();
    for (RunView run : store.list(experiment, null, 50, "").runs()) {
      if (run.status() == RunStatus.QUEUED || run.status() == RunStatus.RUNNING) {
        return; // the scheduler has it
      }
      if (run.status() == RunStatus.INTERRUPTED) {
        LOG.infof("Resuming the interrupted start-up pre-training (run %d)", run.id());
        runs.resume(run.id());
        return;
      }
      if (run.status() == RunStatus.FAILED) {
        LOG.warnf(
            "Start-up pre-training run %d failed before (%s); not retrying", run.id(), run.error());
        return;
      }
    }
    boolean fashion =
        Files.isRegularFile(config.fashionMnistDir().resolve("train-images-idx3-ubyte.gz"));
    String dataset = fashion ? "fashion-mnist" : "synthetic-shapes";
    if (!datasetExists(dataset)) {
      if (fashion) {
        registerFashionMnist(dataset);
      } else {
        datasets.register(
            new RegisterRequest(
                dataset,
                DatasetSource.SYNTHETIC,
                null,
                null,
                List.of(),
                null,
                null,
                null,
                1500,
                1));
      }
    }
    RunSpec spec =
        new RunSpec(
            experiment,
            "pretrain-cnn-small",
            "",
            "cnn-small",
            dataset,
            Strategy.PRETRAINING,
            0,
            List.of(),
            new RunSpec.Head(List.of(), "", 0),
            new RunSpec.Hyper(
                "ADAM",
                0.002,
                0,
                0,
                0,
                "COSINE",
                0,
                0,
                0,
                64,
                config.epochs(),
                0,
                null,
                false,
                false,
                false),
            new RunSpec.Split(0.05, 0.1, 0),
            42,
            "AUTO",
            fashion ? FASHION : SHAPES);
    RunView run = runs.start(spec);
    LOG.infof(
        "No vision base model yet: pre-training cnn-small on %s as run %d (%d epochs); it becomes"
            + " base model '%s'",
        dataset, run.id(), config.epochs(), spec.modelName());
  }

  private void registerFashionMnist(String name) {
    Path target = datasets.allowedRoot().path().resolve("fashion-mnist");
    try {
      Files.createDirectories(target);
      for (String f : List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")) {
        Files.copy(
            config.fashionMnistDir().resolve(f),
            target.resolve(f),
            StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    datasets.register(
        new RegisterRequest(
            name,
            DatasetSource.IDX,
            "fashion-mnist/train-images-idx3-ubyte.gz",
            "fashion-mnist/train-labels-idx1-ubyte.gz",
            FASHION_CLASSES,
            null,
            null,
            null,
            0,
            0));
  }

  void registerMinilm() {
    if (baseModels.exists(MINILM)) {
      storeMinilmTokenizer(); // registered by an older Graft, without its tokenizer
      return;
    }
    try (InputStream in = BaseModelBootstrap.class.getResourceAsStream("/all-minilm-l6-v2.onnx")) {
      if (in == null) {
        return;
      }
      Path tmp = Files.createTempFile("minilm-", ".onnx");
      try {
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        OnnxImport.load(tmp); // through the model core: opset, operators, normalisation
        baseModels.register(
            new BaseModels.NewBaseModel(
                MINILM,
                "onnx",
                "IMPORTED",
                tmp,
                "last_hidden_state",
                Map.of(
                    "kind", "TEXT",
                    "inputs", List.of("input_ids", "attention_mask", "token_type_ids"),
                    "featureShape", List.of(-1, 384)),
                Map.of(),
                List.of(),
                Map.of(),
                null));
        storeMinilmTokenizer();
        LOG.infof("Registered the MiniLM text encoder as base model '%s'", MINILM);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Stores MiniLM's own {@code tokenizer.json} beside its ONNX file, once: written to a temporary
   * file in the same directory and moved into place, so a crash never leaves half a tokenizer.
   */
  void storeMinilmTokenizer() {
    Path target = baseModels.tokenizerTarget(MINILM);
    if (Files.isRegularFile(target)) {
      return;
    }
    try (InputStream in = BaseModelBootstrap.class.getResourceAsStream(MINILM_TOKENIZER)) {
      if (in == null) {
        LOG.warnf("MiniLM's tokenizer %s is not on the classpath; text runs cannot start", target);
        return;
      }
      Path tmp = Files.createTempFile(target.getParent(), "tokenizer-", ".tmp");
      try {
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
      LOG.infof("Stored MiniLM's tokenizer beside its ONNX file: %s", target);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private boolean datasetExists(String name) {
    try {
      datasets.getByName(name);
      return true;
    } catch (dev.graft.core.GraftException.NotFound e) {
      return false;
    }
  }

  private long experimentId() {
    return QuarkusTransaction.requiringNew()
        .call(
            () ->
                experimentRepository
                    .findByName(EXPERIMENT)
                    .map(e -> e.id)
                    .orElseGet(
                        () ->
                            experiments
                                .create(
                                    EXPERIMENT,
                                    "Base models Graft pre-trains by itself on first start",
                                    List.of("bootstrap"))
                                .id()));
  }
}
