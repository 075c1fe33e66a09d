package dev.graft.model;

import dev.graft.core.Artifacts;
import dev.graft.core.GraftException;
import dev.graft.core.StorageConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The registry of trained model versions: registering an exported ONNX file as the next version of
 * a model, resolving a version by number or alias, listing, and moving aliases.
 *
 * <p>Registered files are copied under {@code <data dir>/models/<name>/<version>/model.onnx} and
 * never change afterwards: a version is immutable, and its sha256 is computed while copying.
 *
 * <p>Exporters write the class labels into the ONNX {@code metadata_props} under {@link
 * #LABELS_METADATA_KEY} as a JSON array of strings in output order (e.g. {@code ["cat","dog"]}),
 * next to {@code graft.preprocessing} ({@link dev.graft.data.Preprocessing}).
 */
@ApplicationScoped
public class ModelVersions {

  /** The alias that registration moves by default, and that a bare model name means. */
  public static final String DEFAULT_ALIAS = "latest";

  /** metadata_props key of the class labels: a JSON array of strings in output order. */
  public static final String LABELS_METADATA_KEY = "graft.labels";

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");
  // Aliases never start with a digit, so "3" is always a version number (KServe's version field).
  private static final Pattern ALIAS = Pattern.compile("[A-Za-z._-][A-Za-z0-9._-]{0,63}");

  private final ModelVersionRepository versions;
  private final ModelAliasRepository aliases;
  private final StorageConfig storage;
  private final Event<ModelAliasMoved> aliasMoved;
  private final EntityManager em;

  ModelVersions(
      ModelVersionRepository versions,
      ModelAliasRepository aliases,
      StorageConfig storage,
      Event<ModelAliasMoved> aliasMoved,
      EntityManager em) {
    this.versions = versions;
    this.aliases = aliases;
    this.storage = storage;
    this.aliasMoved = aliasMoved;
    this.em = em;
  }

  /**
   * Registers the file as the next version of the model (1 for a new model) and points the alias at
   * it.
   */
  @Transactional
  public ModelVersionInfo register(NewModelVersion spec) {
    String alias = spec.alias() == null ? DEFAULT_ALIAS : checkAlias(spec.alias());
    ModelVersion v = insert(spec);
    moveAlias(v, alias);
    return info(v);
  }

  /**
   * Registers the file as the next version of the model without moving any alias: the caller moves
   * one with {@link #setAlias} as the last step of its own transaction. A run registers at most one
   * version (unique {@code run_id}): see {@link #findByRun}.
   */
  @Transactional
  public ModelVersionInfo registerUnaliased(NewModelVersion spec) {
    return info(insert(spec));
  }

  /** The version a training run published, if any. */
  @Transactional
  public java.util.Optional<ModelVersionInfo> findByRun(long runId) {
    return versions.find("runId", runId).firstResultOptional().map(this::info);
  }

  private ModelVersion insert(NewModelVersion spec) {
    checkName(spec.modelName());
    if (!Files.isRegularFile(spec.onnxFile()) || !Files.isReadable(spec.onnxFile())) {
      throw new GraftException.InvalidArgument(
          "ONNX file " + spec.onnxFile() + " does not exist or is not readable");
    }
    if (!(spec.parityMaxAbsDiff() >= 0)) {
      throw new GraftException.InvalidArgument(
          "parity max abs diff must be >= 0, got " + spec.parityMaxAbsDiff());
    }
    // Serialises registrations of one model name, so version numbers never collide.
    em.createNativeQuery("SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtext(?1))) AS l")
        .setParameter(1, "model_version:" + spec.modelName())
        .getSingleResult();
    Integer max =
        em.createQuery(
                "SELECT max(v.version) FROM ModelVersion v WHERE v.modelName = ?1", Integer.class)
            .setParameter(1, spec.modelName())
            .getSingleResult();
    int next = max == null ? 1 : max + 1;

    Path target = storage.area("models").resolve(spec.modelName()).resolve(String.valueOf(next));
    Path file = target.resolve("model.onnx");
    String sha256 = Artifacts.copyWithSha256(spec.onnxFile(), file);
    Map<String, String> companionHashes = new LinkedHashMap<>();
    for (Map.Entry<String, Path> c : spec.companions().entrySet()) {
      if (!c.getKey().matches("[A-Za-z0-9._-]{1,128}") || c.getKey().equals("model.onnx")) {
        throw new GraftException.InvalidArgument(
            "companion file name '"
                + c.getKey()
                + "': use 1-128 of [A-Za-z0-9._-], not model.onnx");
      }
      companionHashes.put(
          c.getKey(), Artifacts.copyWithSha256(c.getValue(), target.resolve(c.getKey())));
    }

    ModelVersion v = new ModelVersion();
    v.modelName = spec.modelName();
    v.version = next;
    v.runId = spec.runId();
    v.onnxPath = file.toAbsolutePath().toString();
    v.sha256 = sha256;
    v.inputSpec = new LinkedHashMap<>(spec.inputSpec());
    v.labels = new ArrayList<>(spec.labels());
    v.parityMaxAbsDiff = spec.parityMaxAbsDiff();
    v.metadata = new LinkedHashMap<>(spec.metadata());
    companionHashes.forEach((name, hash) -> v.metadata.put("graft.companion." + name, hash));
    v.createdAt = now();
    versions.persistAndFlush(v);
    return v;
  }

  /** The version a reference means; NOT_FOUND naming what is missing. */
  @Transactional
  public ModelVersionInfo resolve(ModelRef ref) {
    return info(find(ref));
  }

  /** All versions of a model, oldest first; NOT_FOUND when the model has none. */
  @Transactional
  public List<ModelVersionInfo> list(String modelName) {
    List<ModelVersion> found = versions.list("modelName = ?1 ORDER BY version", modelName);
    if (found.isEmpty()) {
      throw new GraftException.NotFound("model", "'" + modelName + "'");
    }
    return found.stream().map(this::info).toList();
  }

  /** The versions a training run produced, oldest first (possibly none). */
  @Transactional
  public List<ModelVersionInfo> listByRun(long runId) {
    return versions.list("runId = ?1 ORDER BY createdAt, id", runId).stream()
        .map(this::info)
        .toList();
  }

  /** Every version of every model, by name then version. */
  @Transactional
  public List<ModelVersionInfo> listAll() {
    return versions.list("ORDER BY modelName, version").stream().map(this::info).toList();
  }

  /** Points the alias at the version (creating the alias when needed). */
  @Transactional
  public ModelVersionInfo setAlias(String modelName, String alias, int version) {
    checkAlias(alias);
    if (version < 1) {
      throw new GraftException.InvalidArgument(
          "version must be >= 1 to move alias '" + alias + "', got " + version);
    }
    ModelVersion v = find(ModelRef.version(modelName, version));
    moveAlias(v, alias);
    return info(v);
  }

  private void moveAlias(ModelVersion v, String alias) {
    ModelAlias a =
        aliases
            .find("modelName = ?1 AND alias = ?2", v.modelName, alias)
            .firstResultOptional()
            .orElseGet(ModelAlias::new);
    a.modelName = v.modelName;
    a.alias = alias;
    a.modelVersionId = v.id;
    a.updatedAt = now();
    aliases.persistAndFlush(a);
    aliasMoved.fire(new ModelAliasMoved(v.modelName, alias, info(v)));
  }

  private ModelVersion find(ModelRef ref) {
    if (ref.byAlias()) {
      ModelAlias a =
          aliases.find("modelName = ?1 AND alias = ?2", ref.name(), ref.alias()).firstResult();
      if (a == null) {
        checkModelExists(ref.name());
        throw new GraftException.NotFound(
            "alias '" + ref.alias() + "' of model", "'" + ref.name() + "'");
      }
      return versions.findById(a.modelVersionId);
    }
    return versions
        .find("modelName = ?1 AND version = ?2", ref.name(), ref.version())
        .firstResultOptional()
        .orElseThrow(
            () -> {
              checkModelExists(ref.name());
              return new GraftException.NotFound(
                  "version " + ref.version() + " of model", "'" + ref.name() + "'");
            });
  }

  private void checkModelExists(String name) {
    if (versions.count("modelName", name) == 0) {
      throw new GraftException.NotFound("model", "'" + name + "'");
    }
  }

  private ModelVersionInfo info(ModelVersion v) {
    List<String> names =
        aliases.list("modelVersionId = ?1 ORDER BY alias", v.id).stream()
            .map(a -> a.alias)
            .toList();
    Path path = Path.of(v.onnxPath);
    long size;
    try {
      size = Files.size(path);
    } catch (IOException e) {
      size = -1;
    }
    return new ModelVersionInfo(
        v.id,
        v.modelName,
        v.version,
        v.runId,
        path,
        v.sha256,
        size,
        v.inputSpec == null ? Map.of() : v.inputSpec,
        v.labels == null ? List.of() : v.labels,
        v.parityMaxAbsDiff,
        v.metadata == null ? Map.of() : v.metadata,
        names,
        v.createdAt);
  }

  private static void checkName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new GraftException.InvalidArgument(
          "model name '"
              + name
              + "' is not valid: use 1-128 characters of letters, digits, '.', '_' and '-'");
    }
  }

  private static String checkAlias(String alias) {
    if (alias == null || !ALIAS.matcher(alias).matches()) {
      throw new GraftException.InvalidArgument(
          "alias '"
              + alias
              + "' is not valid: use 1-64 letters, digits, '.', '_' and '-', not starting with a"
              + " digit");
    }
    return alias;
  }

  private static Instant now() {
    return Instant.now().truncatedTo(ChronoUnit.MICROS);
  }
}
