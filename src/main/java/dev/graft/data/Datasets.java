package dev.graft.data;

import dev.graft.core.Artifacts;
import dev.graft.core.GraftException;
import dev.graft.core.PageToken;
import dev.graft.core.StorageConfig;
import dev.graft.experiments.RunRepository;
import dev.graft.experiments.RunStatus;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.panache.common.Sort;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.persistence.LockModeType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.hibernate.exception.ConstraintViolationException;
import org.jboss.logging.Logger;

/**
 * Storing, listing, reading and deleting datasets. Files live in {@code <data dir>/datasets}; a
 * dataset is written to {@code datasets/.staging} first and moved into place (same file system,
 * atomic) only when complete, then recorded. A failure at any step deletes what was written, and
 * staging files left by a crash are removed at start.
 */
@ApplicationScoped
public class Datasets {

  private static final Logger LOG = Logger.getLogger(Datasets.class);
  static final int DEFAULT_PAGE_SIZE = 50;
  static final int MAX_PAGE_SIZE = 1000;
  static final String AREA = "datasets";
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");
  private static final List<String> DIGITS =
      IntStream.range(0, 10).mapToObj(String::valueOf).toList();

  private final DatasetRepository repository;
  private final RunRepository runs;
  private final StorageConfig storage;
  private final DataConfig config;

  Datasets(
      DatasetRepository repository, RunRepository runs, StorageConfig storage, DataConfig config) {
    this.repository = repository;
    this.runs = runs;
    this.storage = storage;
    this.config = config;
  }

  /**
   * Removes unfinished dataset files. Only the control plane (api, all) writes datasets, so only it
   * cleans: the artifact directory is shared by every role.
   */
  void onStart(@Observes StartupEvent event, dev.graft.core.RoleConfig roles) {
    if (!roles.role().controls()) {
      return;
    }
    Path staging = stagingDir();
    try (Stream<Path> stale = Files.list(staging)) {
      for (Path p : stale.toList()) {
        LOG.infof("Removing the unfinished dataset file %s", p);
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      LOG.warnf("Could not clean %s: %s", staging, e);
    }
  }

  /** The directory holding the stored dataset files. */
  public Path directory() {
    return storage.area(AREA);
  }

  /** Where unfinished dataset files are written. */
  public Path stagingDir() {
    Path dir = directory().resolve(".staging");
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + dir, e);
    }
    return dir;
  }

  /** The root server-side imports must lie under. */
  public AllowedRoot allowedRoot() {
    return new AllowedRoot(config.allowedRoot().orElse(storage.area("imports")));
  }

  /**
   * Starts an upload: checks the header, then takes examples one at a time. The caller must end it
   * with {@link Upload#finish()} or {@link Upload#abort()}.
   */
  public Upload startUpload(UploadHeader header) {
    checkNewName(header.name());
    if (header.kind() == null) {
      throw new GraftException.InvalidArgument(
          "the header has no kind: set DATASET_KIND_IMAGE, DATASET_KIND_FEATURES or"
              + " DATASET_KIND_TEXT");
    }
    DatasetBuilder builder =
        new DatasetBuilder(
            newStagingFile("upload"),
            header.kind(),
            header.classNames(),
            config.limits(),
            header.imageShape(),
            header.resizePolicy());
    return new Upload(this, header.name(), builder);
  }

  /** Imports server-side data, or generates synthetic data, as a new dataset. */
  public DatasetInfo register(RegisterRequest request) {
    checkNewName(request.name());
    DatasetSource source = request.source();
    if (source == null || source == DatasetSource.UPLOAD) {
      throw new GraftException.InvalidArgument(
          "source must be IMAGE_FOLDER, IDX, CSV, MNIST_JSON, SYNTHETIC, TEXT_FOLDER, TEXT_CSV or"
              + " TEXT_JSONL; stream uploads with UploadDataset");
    }
    if (source != DatasetSource.IMAGE_FOLDER
        && (request.imageShape() != null || request.resizePolicy() == ResizePolicy.STRETCH)) {
      throw new GraftException.InvalidArgument(
          "image_shape and resize_policy apply to IMAGE_FOLDER only, not " + source);
    }
    boolean textTable = source == DatasetSource.TEXT_CSV || source == DatasetSource.TEXT_JSONL;
    if (!textTable && request.textColumn() != null && !request.textColumn().isEmpty()) {
      throw new GraftException.InvalidArgument(
          "text_column applies to TEXT_CSV and TEXT_JSONL only, not " + source);
    }
    List<String> given = request.classNames() == null ? List.of() : request.classNames();
    DatasetLimits limits = config.limits();
    DatasetBuilder.Staged staged;
    switch (source) {
      case IDX:
        {
          AllowedRoot root = allowedRoot();
          Path images = file(root.resolve(request.path(), "path"), "path");
          Path labels = file(root.resolve(request.labelsPath(), "labels_path"), "labels_path");
          try (DatasetBuilder b = builder(DatasetKind.IMAGE, orDigits(given), null, null)) {
            IdxImporter.read(images, labels, b);
            staged = b.finish();
          }
          break;
        }
      case MNIST_JSON:
        {
          AllowedRoot root = allowedRoot();
          Path dir = directory(root.resolve(request.path(), "path"), "path");
          try (DatasetBuilder b = builder(DatasetKind.IMAGE, orDigits(given), null, null)) {
            MnistJsonImporter.read(dir, root, b);
            staged = b.finish();
          }
          break;
        }
      case CSV:
        {
          Path file = file(allowedRoot().resolve(request.path(), "path"), "path");
          CsvImporter csv = new CsvImporter(file, request.labelColumn());
          List<String> classes = given.isEmpty() ? csv.discoverClasses(limits.maxClasses()) : given;
          try (DatasetBuilder b = builder(DatasetKind.FEATURES, classes, null, null)) {
            csv.read(b);
            staged = b.finish();
          }
          break;
        }
      case IMAGE_FOLDER:
        {
          AllowedRoot root = allowedRoot();
          ClassFolderImporter folder =
              ClassFolderImporter.images(root.resolve(request.path(), "path"), root);
          List<String> classes = given.isEmpty() ? folder.discoverClasses() : given;
          try (DatasetBuilder b =
              builder(DatasetKind.IMAGE, classes, request.imageShape(), request.resizePolicy())) {
            folder.read(b, limits.maxExampleBytes());
            staged = b.finish();
          }
          break;
        }
      case TEXT_FOLDER:
        {
          AllowedRoot root = allowedRoot();
          ClassFolderImporter folder =
              ClassFolderImporter.texts(root.resolve(request.path(), "path"), root);
          List<String> classes = given.isEmpty() ? folder.discoverClasses() : given;
          try (DatasetBuilder b = builder(DatasetKind.TEXT, classes, null, null)) {
            folder.read(b, limits.maxExampleBytes());
            staged = b.finish();
          }
          break;
        }
      case TEXT_CSV:
        {
          Path file = file(allowedRoot().resolve(request.path(), "path"), "path");
          TextCsvImporter csv =
              new TextCsvImporter(file, request.textColumn(), request.labelColumn());
          List<String> classes = given.isEmpty() ? csv.discoverClasses(limits.maxClasses()) : given;
          try (DatasetBuilder b = builder(DatasetKind.TEXT, classes, null, null)) {
            csv.read(b);
            staged = b.finish();
          }
          break;
        }
      case TEXT_JSONL:
        {
          Path file = file(allowedRoot().resolve(request.path(), "path"), "path");
          TextJsonlImporter jsonl =
              new TextJsonlImporter(
                  file, request.textColumn(), request.labelColumn(), limits.maxExampleBytes());
          List<String> classes =
              given.isEmpty() ? jsonl.discoverClasses(limits.maxClasses()) : given;
          try (DatasetBuilder b = builder(DatasetKind.TEXT, classes, null, null)) {
            jsonl.read(b);
            staged = b.finish();
          }
          break;
        }
      case SYNTHETIC:
        {
          SyntheticShapes shapes = new SyntheticShapes(given, request.seed());
          try (DatasetBuilder b = builder(DatasetKind.IMAGE, shapes.classNames(), null, null)) {
            shapes.generate(request.examplesPerClass(), b);
            staged = b.finish();
          }
          break;
        }
      default:
        throw new IllegalStateException("source " + source);
    }
    return store(staged, request.name(), source);
  }

  private static Path file(Path path, String what) {
    if (!Files.isRegularFile(path)) {
      throw new GraftException.InvalidArgument(what + " " + path + " is not a regular file");
    }
    return path;
  }

  private static Path directory(Path path, String what) {
    if (!Files.isDirectory(path)) {
      throw new GraftException.InvalidArgument(what + " " + path + " is not a directory");
    }
    return path;
  }

  private DatasetBuilder builder(
      DatasetKind kind, List<String> classes, ImageShape shape, ResizePolicy policy) {
    return new DatasetBuilder(
        newStagingFile("register"), kind, classes, config.limits(), shape, policy);
  }

  private static List<String> orDigits(List<String> given) {
    return given.isEmpty() ? DIGITS : given;
  }

  private Path newStagingFile(String prefix) {
    return stagingDir().resolve(prefix + "-" + UUID.randomUUID() + ".part");
  }

  private void checkNewName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new GraftException.InvalidArgument(
          "name '"
              + name
              + "' is not valid: use 1-128 characters of letters, digits, '.', '_' and '-'");
    }
    boolean taken =
        QuarkusTransaction.requiringNew().call(() -> repository.count("name", name) > 0);
    if (taken) {
      throw alreadyExists(name);
    }
  }

  private static GraftException alreadyExists(String name) {
    return new GraftException.AlreadyExists(
        "a dataset named '" + name + "' already exists; choose another name or delete it first");
  }

  /** Moves a finished staging file into place and records it; on failure deletes the file. */
  DatasetInfo store(DatasetBuilder.Staged staged, String name, DatasetSource source) {
    String relative = AREA + "/" + UUID.randomUUID() + DatasetFile.EXTENSION;
    Path target = storage.dir().resolve(relative);
    try {
      // The staged file was fsynced by its writer; the rename and the directory entry are made
      // durable here, before the database row that points at the file commits.
      Files.move(staged.file(), target, StandardCopyOption.ATOMIC_MOVE);
      Artifacts.fsyncDirectory(target.getParent());
    } catch (IOException e) {
      deleteQuietly(staged.file());
      throw new UncheckedIOException("cannot move the dataset into " + target, e);
    }
    try {
      return QuarkusTransaction.requiringNew().call(() -> insert(staged, name, source, relative));
    } catch (RuntimeException e) {
      deleteQuietly(target);
      if (causedBy(e, ConstraintViolationException.class)) {
        throw alreadyExists(name);
      }
      throw e;
    }
  }

  private DatasetInfo insert(
      DatasetBuilder.Staged staged, String name, DatasetSource source, String relative) {
    Dataset d = new Dataset();
    d.name = name;
    d.kind = staged.kind().name();
    d.source = source.name();
    d.status = "READY";
    d.classNames = new ArrayList<>(staged.classNames());
    Map<String, Long> counts = new LinkedHashMap<>();
    for (int i = 0; i < staged.classNames().size(); i++) {
      counts.put(staged.classNames().get(i), staged.classCounts().get(i));
    }
    d.classCounts = counts;
    d.exampleCount = staged.count();
    d.exampleShape = new ArrayList<>(staged.shape());
    d.sha256 = staged.sha256();
    d.storagePath = relative;
    d.sizeBytes = staged.sizeBytes();
    if (staged.textStats() != null) {
      d.textMaxChars = staged.textStats().maxChars();
      d.textMeanChars = staged.textStats().meanChars();
    }
    d.createdAt = Instant.now().truncatedTo(ChronoUnit.MICROS);
    repository.persistAndFlush(d);
    LOG.infof(
        "Stored dataset '%s' (id %d, %s, %d examples, sha256 %s)",
        name, d.id, source, d.exampleCount, d.sha256);
    return DatasetInfo.of(d);
  }

  public DatasetInfo get(long id) {
    return QuarkusTransaction.requiringNew().call(() -> DatasetInfo.of(find(id)));
  }

  public DatasetInfo getByName(String name) {
    return QuarkusTransaction.requiringNew()
        .call(
            () ->
                DatasetInfo.of(
                    repository
                        .find("name", name)
                        .firstResultOptional()
                        .orElseThrow(
                            () -> new GraftException.NotFound("dataset", "'" + name + "'"))));
  }

  public DatasetPage list(int pageSize, String pageToken) {
    if (pageSize < 0 || pageSize > MAX_PAGE_SIZE) {
      throw new GraftException.InvalidArgument(
          "page_size " + pageSize + " is out of range: use 1-" + MAX_PAGE_SIZE + ", or 0 for 50");
    }
    int size = pageSize == 0 ? DEFAULT_PAGE_SIZE : pageSize;
    long after = PageToken.decode(pageToken);
    return QuarkusTransaction.requiringNew()
        .call(
            () -> {
              // One extra row tells whether another page exists.
              List<Dataset> rows =
                  repository.find("id < ?1", Sort.descending("id"), after).range(0, size).list();
              boolean more = rows.size() > size;
              List<Dataset> page = more ? rows.subList(0, size) : rows;
              String next = more ? PageToken.encode(page.get(page.size() - 1).id) : "";
              return new DatasetPage(page.stream().map(DatasetInfo::of).toList(), next);
            });
  }

  /**
   * Deletes the record, then the file. The dataset row is locked first, so a run cannot start on it
   * in between (the run queue must read the dataset FOR SHARE when it enqueues a run). Finished
   * runs keep their configuration and split hash; their link to the dataset is cleared.
   *
   * @return the bytes freed
   */
  public long delete(long id) {
    Path file =
        QuarkusTransaction.requiringNew()
            .call(
                () -> {
                  Dataset d =
                      repository
                          .findByIdOptional(id, LockModeType.PESSIMISTIC_WRITE)
                          .orElseThrow(() -> new GraftException.NotFound("dataset", id));
                  List<Long> live =
                      runs
                          .list(
                              "datasetId = ?1 and status in ?2",
                              id,
                              List.of(RunStatus.QUEUED, RunStatus.RUNNING))
                          .stream()
                          .map(r -> r.id)
                          .toList();
                  if (!live.isEmpty()) {
                    throw new GraftException.FailedPrecondition(
                        "dataset '"
                            + d.name
                            + "' (id "
                            + id
                            + ") is used by queued or running run(s) "
                            + live
                            + "; cancel them or wait until they finish, then delete it");
                  }
                  runs.update("datasetId = null where datasetId = ?1", id);
                  repository.delete(d);
                  return storage.dir().resolve(d.storagePath);
                });
    long size = 0;
    try {
      size = Files.size(file);
    } catch (IOException e) {
      LOG.warnf("Dataset %d had no file at %s", id, file);
    }
    deleteQuietly(file);
    return size;
  }

  /** Opens a stored dataset for reading; the caller closes the reader. */
  public DatasetReader open(long id) {
    return DatasetReader.open(file(id));
  }

  /** The stored file of a dataset. */
  public Path file(long id) {
    String relative = QuarkusTransaction.requiringNew().call(() -> find(id).storagePath);
    return storage.dir().resolve(relative);
  }

  /** The deterministic split of a stored dataset (see {@link Splits}). */
  public Splits.Split split(long id, Splits.Fractions fractions, long seed) {
    DatasetInfo info = get(id);
    try (DatasetReader reader = open(id)) {
      return Splits.split(reader, info.sha256(), fractions, seed);
    }
  }

  private Dataset find(long id) {
    return repository
        .findByIdOptional(id)
        .orElseThrow(() -> new GraftException.NotFound("dataset", id));
  }

  static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      LOG.warnf("Could not delete %s: %s", file, e);
    }
  }

  private static boolean causedBy(Throwable t, Class<? extends Throwable> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return true;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return false;
  }
}
