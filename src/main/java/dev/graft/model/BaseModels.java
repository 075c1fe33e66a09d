package dev.graft.model;

import dev.graft.core.Artifacts;
import dev.graft.core.GraftException;
import dev.graft.core.StorageConfig;
import io.quarkus.panache.common.Sort;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The base models new heads are grafted onto: pre-trained by Graft itself or imported. Each is an
 * ONNX file under {@code <data>/base-models/<name>/model.onnx}, immutable once registered.
 */
@ApplicationScoped
public class BaseModels {

  /** File name of a text base model's tokenizer, beside its {@code model.onnx}. */
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");

  private final BaseModelRepository repository;
  private final StorageConfig storage;

  BaseModels(BaseModelRepository repository, StorageConfig storage) {
    this.repository = repository;
    this.storage = storage;
  }

  /** What it takes to register a base model. */
  public record NewBaseModel(
      String name,
      String architecture,
      String source,
      Path onnxFile,
      String featureTensor,
      Map<String, Object> inputSpec,
      Map<String, Object> preprocessing,
      List<String> classNames,
      Map<String, Double> metrics,
      Long pretrainRunId) {}

  /** Copies the file into the base-model area and records it; the name must be new. */
  @Transactional
  public BaseModelInfo register(NewBaseModel spec) {
    if (spec.name() == null || !NAME.matcher(spec.name()).matches()) {
      throw new GraftException.InvalidArgument(
          "base model name '" + spec.name() + "': use 1-128 of [A-Za-z0-9._-]");
    }
    if (repository.find("name", spec.name()).firstResultOptional().isPresent()) {
      throw new GraftException.AlreadyExists(
          "a base model named '" + spec.name() + "' already exists; choose another name");
    }
    Path target = storage.area("base-models").resolve(spec.name()).resolve("model.onnx");
    BaseModel b = new BaseModel();
    b.name = spec.name();
    b.architecture = spec.architecture();
    b.source = spec.source();
    b.sha256 = Artifacts.copyWithSha256(spec.onnxFile(), target);
    b.onnxPath = target.toAbsolutePath().toString();
    b.featureTensor = spec.featureTensor();
    b.inputSpec = new LinkedHashMap<>(spec.inputSpec());
    b.preprocessing =
        spec.preprocessing() == null
            ? new LinkedHashMap<>()
            : new LinkedHashMap<>(spec.preprocessing());
    b.classNames = spec.classNames() == null ? List.of() : List.copyOf(spec.classNames());
    b.metrics = spec.metrics() == null ? Map.of() : new LinkedHashMap<>(spec.metrics());
    b.pretrainRunId = spec.pretrainRunId();
    b.createdAt = Instant.now().truncatedTo(ChronoUnit.MICROS);
    repository.persist(b);
    return BaseModelInfo.of(b);
  }

  @Transactional
  public BaseModelInfo get(String name) {
    return repository
        .find("name", name)
        .firstResultOptional()
        .map(BaseModelInfo::of)
        .orElseThrow(() -> new GraftException.NotFound("base model", "'" + name + "'"));
  }

  @Transactional
  public boolean exists(String name) {
    return repository.find("name", name).firstResultOptional().isPresent();
  }

  /** Whether the base model of that name is the one the pre-training run published. */
  @Transactional
  public boolean existsForRun(String name, long pretrainRunId) {
    return repository
        .find("name = ?1 AND pretrainRunId = ?2", name, pretrainRunId)
        .firstResultOptional()
        .isPresent();
  }

  @Transactional
  public List<BaseModelInfo> list() {
    return repository.findAll(Sort.by("createdAt")).stream().map(BaseModelInfo::of).toList();
  }

  /** Where the base model's ONNX file is. */
  @Transactional
  public Path file(String name) {
    return Path.of(
        repository
            .find("name", name)
            .firstResultOptional()
            .orElseThrow(() -> new GraftException.NotFound("base model", "'" + name + "'"))
            .onnxPath);
  }

  /**
   * The Hugging Face {@code tokenizer.json} stored beside a text base model's ONNX file.
   *
   * @throws GraftException.FailedPrecondition if the base model has none (not a text model, or
   *     registered before tokenizers were stored: a restart stores MiniLM's)
   */
  public Path tokenizerFile(String name) {
    Path tokenizer = file(name).resolveSibling(TOKENIZER_FILE);
    if (!java.nio.file.Files.isRegularFile(tokenizer)) {
      throw new GraftException.FailedPrecondition(
          "base model '"
              + name
              + "' has no "
              + TOKENIZER_FILE
              + " beside its ONNX file; only text base models have one");
    }
    return tokenizer;
  }

  /** Where a base model's tokenizer goes (it may not exist yet). */
  public Path tokenizerTarget(String name) {
    return file(name).resolveSibling(TOKENIZER_FILE);
  }
}
