package dev.graft.training;

import dev.graft.core.GraftException;
import dev.graft.core.PageToken;
import dev.graft.data.Dataset;
import dev.graft.data.DatasetRepository;
import dev.graft.experiments.MetricPoint;
import dev.graft.experiments.MetricPointRepository;
import dev.graft.experiments.Run;
import dev.graft.experiments.RunRepository;
import dev.graft.experiments.RunStatus;
import dev.graft.model.BaseModel;
import dev.graft.model.BaseModelRepository;
import io.quarkus.panache.common.Parameters;
import io.quarkus.panache.common.Sort;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The runs' rows in the experiment store: every state change of a run is written here. */
@ApplicationScoped
public class RunStore {

  private final RunRepository runs;
  private final MetricPointRepository metrics;
  private final DatasetRepository datasets;
  private final BaseModelRepository baseModels;

  RunStore(
      RunRepository runs,
      MetricPointRepository metrics,
      DatasetRepository datasets,
      BaseModelRepository baseModels) {
    this.runs = runs;
    this.metrics = metrics;
    this.datasets = datasets;
    this.baseModels = baseModels;
  }

  static Instant now() {
    return Instant.now().truncatedTo(ChronoUnit.MICROS);
  }

  @Transactional
  public long createQueued(
      RunSpec spec,
      Long baseModelId,
      long datasetId,
      Long parentRunId,
      Map<String, String> versions) {
    Run r = new Run();
    r.experimentId = spec.experimentId();
    r.name = spec.name();
    r.strategy = spec.strategy().name();
    r.status = RunStatus.QUEUED;
    r.baseModelId = baseModelId;
    r.datasetId = datasetId;
    r.parentRunId = parentRunId;
    r.config = StoredRunSpec.write(spec);
    r.params = RunParams.of(spec);
    r.seed = spec.seed();
    r.requestedDevice = spec.device();
    r.versions = new LinkedHashMap<>(versions);
    r.createdAt = now();
    r.updatedAt = r.createdAt;
    runs.persist(r);
    return r.id;
  }

  /** QUEUED to RUNNING; false when the run is no longer queued (cancelled meanwhile). */
  @Transactional
  public boolean claim(long id) {
    Instant now = now();
    return runs.update(
            "status = ?1, startedAt = ?2, updatedAt = ?2, error = null"
                + " where id = ?3 and status = ?4",
            RunStatus.RUNNING,
            now,
            id,
            RunStatus.QUEUED)
        == 1;
  }

  @Transactional
  public void started(
      long id,
      String device,
      String splitHash,
      long trainable,
      long total,
      boolean featureCache,
      List<String> labels) {
    Run r = find(id);
    r.device = device;
    r.splitHash = splitHash;
    r.trainableParams = trainable;
    r.totalParams = total;
    r.summary = RunSummary.fromStored(r.summary).started(featureCache, labels).toStored();
    r.updatedAt = now();
  }

  /** Records one epoch's metrics, replacing values of that epoch recorded before a resume. */
  @Transactional
  public void epoch(long id, int epoch, Map<String, Double> values) {
    metrics.delete("runId = ?1 and epoch = ?2", id, epoch);
    Instant now = now();
    for (Map.Entry<String, Double> e : values.entrySet()) {
      MetricPoint p = new MetricPoint();
      p.runId = id;
      p.key = e.getKey();
      p.step = epoch;
      p.epoch = epoch;
      p.value = e.getValue();
      p.recordedAt = now;
      metrics.persist(p);
    }
    find(id).updatedAt = now;
  }

  /** Records the test results. */
  @Transactional
  public void tested(
      long id,
      Map<String, Double> testMetrics,
      List<Long> confusionMatrix,
      long testExamples,
      Long peakMemoryBytes) {
    Run r = find(id);
    r.summary =
        RunSummary.fromStored(r.summary)
            .tested(testMetrics, confusionMatrix, testExamples)
            .toStored();
    peak(r, peakMemoryBytes);
    r.updatedAt = now();
  }

  /** Records the published model version (inside {@link RunPublisher}'s transaction). */
  @Transactional
  public void published(
      long id, String modelVersion, String onnxSha256, double parityMaxAbsDiff, Long peakMemory) {
    Run r = find(id);
    r.summary =
        RunSummary.fromStored(r.summary)
            .published(modelVersion, onnxSha256, parityMaxAbsDiff)
            .toStored();
    peak(r, peakMemory);
    r.updatedAt = now();
  }

  private static void peak(Run r, Long peakMemoryBytes) {
    if (peakMemoryBytes != null) {
      r.peakMemoryBytes =
          Math.max(peakMemoryBytes, r.peakMemoryBytes == null ? 0 : r.peakMemoryBytes);
    }
  }

  @Transactional
  public void finish(long id, RunStatus status, String error) {
    Run r = find(id);
    r.status = status;
    r.error = error;
    r.finishedAt = now();
    r.updatedAt = r.finishedAt;
  }

  /**
   * QUEUED to CANCELLED, only if still queued: false when a worker claimed the run meanwhile (its
   * training loop then ends it CANCELLED itself, within one batch).
   */
  @Transactional
  public boolean cancelQueued(long id, String why) {
    Instant now = now();
    return runs.update(
            "status = ?1, error = ?2, finishedAt = ?3, updatedAt = ?3 where id = ?4 and status = ?5",
            RunStatus.CANCELLED,
            why,
            now,
            id,
            RunStatus.QUEUED)
        == 1;
  }

  /** Back to QUEUED for ResumeRun. */
  @Transactional
  public void requeue(long id) {
    Run r = find(id);
    r.status = RunStatus.QUEUED;
    r.error = null;
    r.finishedAt = null;
    r.updatedAt = now();
  }

  /** At start-up: runs left RUNNING by a stopped process become INTERRUPTED. */
  @Transactional
  public List<Long> interruptRunning() {
    List<Long> ids = runs.find("status", RunStatus.RUNNING).stream().map(r -> r.id).toList();
    for (Long id : ids) {
      finish(id, RunStatus.INTERRUPTED, "the service stopped while the run was training");
    }
    return ids;
  }

  @Transactional
  public List<Long> queued() {
    return runs.find("status", Sort.by("id"), RunStatus.QUEUED).stream().map(r -> r.id).toList();
  }

  @Transactional
  public RunStatus status(long id) {
    return find(id).status;
  }

  @Transactional
  public RunView view(long id) {
    return toView(find(id));
  }

  /** One recorded change of a run's status. */
  public record StatusChange(RunStatus status, String message, Instant at) {}

  /** Every status the run went through, oldest first (recorded by a trigger on run.status). */
  @Transactional
  @SuppressWarnings("unchecked")
  public List<StatusChange> statusChanges(long id) {
    List<Object[]> rows =
        runs.getEntityManager()
            .createNativeQuery(
                "SELECT status, message, changed_at FROM run_status_change WHERE run_id = ?1"
                    + " ORDER BY id")
            .setParameter(1, id)
            .getResultList();
    List<StatusChange> out = new ArrayList<>();
    for (Object[] row : rows) {
      Object at = row[2];
      Instant when =
          at instanceof Instant i
              ? i
              : at instanceof java.time.OffsetDateTime o
                  ? o.toInstant()
                  : ((java.sql.Timestamp) at).toInstant();
      out.add(new StatusChange(RunStatus.valueOf((String) row[0]), (String) row[1], when));
    }
    return out;
  }

  /** One page of runs, newest first. */
  @Transactional
  public RunPage list(long experimentId, RunStatus status, int pageSize, String pageToken) {
    if (pageSize < 0 || pageSize > 1000) {
      throw new GraftException.InvalidArgument(
          "page_size " + pageSize + " is out of range: use 1-1000, or 0 for 50");
    }
    int size = pageSize == 0 ? 50 : pageSize;
    StringBuilder query = new StringBuilder("id < :before");
    Parameters params = Parameters.with("before", PageToken.decode(pageToken));
    if (experimentId > 0) {
      query.append(" and experimentId = :experiment");
      params.and("experiment", experimentId);
    }
    if (status != null) {
      query.append(" and status = :status");
      params.and("status", status);
    }
    List<Run> rows =
        runs.find(query.toString(), Sort.by("id", Sort.Direction.Descending), params)
            .page(0, size + 1)
            .list();
    boolean more = rows.size() > size;
    List<Run> page = more ? rows.subList(0, size) : rows;
    return new RunPage(
        listedRuns(page), more ? PageToken.encode(page.get(page.size() - 1).id) : "");
  }

  /**
   * Runs as lists show them, in the order of {@code ids}: each metric's last value (from the
   * per-run summary), never the per-epoch history. Ids of runs that do not exist are skipped.
   */
  @Transactional
  public List<RunView> listed(List<Long> ids) {
    if (ids.isEmpty()) {
      return List.of();
    }
    Map<Long, Run> byId = new HashMap<>();
    runs.list("id in ?1", ids).forEach(r -> byId.put(r.id, r));
    List<Run> ordered = new ArrayList<>();
    for (Long id : ids) {
      Run r = byId.get(id);
      if (r != null) {
        ordered.add(r);
      }
    }
    return listedRuns(ordered);
  }

  private List<RunView> listedRuns(List<Run> page) {
    Map<Long, List<RunView.EpochValue>> last = new HashMap<>();
    for (MetricSummary m : metricSummaries(page.stream().map(r -> r.id).toList())) {
      last.computeIfAbsent(m.runId(), k -> new ArrayList<>())
          .add(new RunView.EpochValue(m.key(), (int) m.lastStep(), m.last()));
    }
    List<RunView> views = new ArrayList<>();
    for (Run r : page) {
      views.add(toView(r, last.getOrDefault(r.id, List.of())));
    }
    return views;
  }

  /** One metric of one run, summarised: its last value and the extremes of its history. */
  public record MetricSummary(
      long runId, String key, long lastStep, double last, double min, double max, int points) {}

  /** The metric summaries of the given runs, by run then key. */
  @Transactional
  public List<MetricSummary> metricSummaries(List<Long> runIds) {
    if (runIds.isEmpty()) {
      return List.of();
    }
    @SuppressWarnings("unchecked")
    List<Object[]> rows =
        metrics
            .getEntityManager()
            .createNativeQuery(
                "SELECT run_id, key, last_step, last_value, min_value, max_value, points"
                    + " FROM run_metric_summary WHERE run_id IN (:ids) ORDER BY run_id, key")
            .setParameter("ids", runIds)
            .getResultList();
    List<MetricSummary> out = new ArrayList<>();
    for (Object[] row : rows) {
      out.add(
          new MetricSummary(
              ((Number) row[0]).longValue(),
              (String) row[1],
              ((Number) row[2]).longValue(),
              ((Number) row[3]).doubleValue(),
              ((Number) row[4]).doubleValue(),
              ((Number) row[5]).doubleValue(),
              ((Number) row[6]).intValue()));
    }
    return out;
  }

  /** The searchable parameters of a run (see RunParams). */
  @Transactional
  public Map<String, Object> params(long runId) {
    Run r = find(runId);
    return r.params != null ? r.params : RunParams.of(StoredRunSpec.read(r.id, r.config));
  }

  /** Every point of the given metric keys (all keys when empty), by key then step. */
  @Transactional
  public Map<String, List<MetricPoint>> history(long runId, List<String> keys) {
    find(runId);
    List<MetricPoint> points =
        keys.isEmpty()
            ? metrics.find("runId", Sort.by("key").and("step"), runId).list()
            : metrics
                .find("runId = ?1 and key in ?2", Sort.by("key").and("step"), runId, keys)
                .list();
    Map<String, List<MetricPoint>> out = new LinkedHashMap<>();
    for (String k : keys) {
      out.put(k, new ArrayList<>());
    }
    for (MetricPoint p : points) {
      out.computeIfAbsent(p.key, k -> new ArrayList<>()).add(p);
    }
    return out;
  }

  /** A page of runs. */
  public record RunPage(List<RunView> runs, String nextPageToken) {}

  private Run find(long id) {
    return runs.findByIdOptional(id).orElseThrow(() -> new GraftException.NotFound("run", id));
  }

  private RunView toView(Run r) {
    return toView(
        r,
        metrics.find("runId", Sort.by("epoch").and("key"), r.id).stream()
            .map(p -> new RunView.EpochValue(p.key, p.epoch, p.value))
            .toList());
  }

  private RunView toView(Run r, List<RunView.EpochValue> values) {
    RunSummary s = RunSummary.fromStored(r.summary);
    String baseModel =
        r.baseModelId == null
            ? ""
            : baseModels.findByIdOptional(r.baseModelId).map(b -> b.name).orElse("");
    String dataset =
        r.datasetId == null
            ? ""
            : datasets.findByIdOptional(r.datasetId).map(d -> d.name).orElse("");
    return new RunView(
        r.id,
        r.experimentId,
        r.name,
        Strategy.valueOf(r.strategy),
        r.status,
        baseModel,
        dataset,
        StoredRunSpec.read(r.id, r.config),
        r.device == null ? "" : r.device,
        r.seed,
        r.splitHash == null ? "" : r.splitHash,
        r.trainableParams == null ? 0 : r.trainableParams,
        r.totalParams == null ? 0 : r.totalParams,
        s.featureCache(),
        values,
        s.testMetrics(),
        s.confusionMatrix(),
        s.labels(),
        s.modelVersion(),
        s.onnxSha256(),
        s.parityMaxAbsDiff(),
        r.error == null ? "" : r.error,
        r.versions,
        r.peakMemoryBytes == null ? 0 : r.peakMemoryBytes,
        r.createdAt,
        r.startedAt,
        r.finishedAt,
        r.parentRunId == null ? 0 : r.parentRunId);
  }

  /** Fills the searchable parameters of runs stored before they existed; returns how many. */
  @Transactional
  public int backfillParams() {
    List<Run> missing = runs.list("params is null");
    for (Run r : missing) {
      r.params = RunParams.of(StoredRunSpec.read(r.id, r.config));
    }
    return missing.size();
  }

  /** The base model and dataset rows a run needs, by name. */
  @Transactional
  public Dataset dataset(String name) {
    return datasets
        .find("name", name)
        .firstResultOptional()
        .orElseThrow(() -> new GraftException.NotFound("dataset", "'" + name + "'"));
  }

  @Transactional
  public BaseModel baseModel(String name) {
    return baseModels
        .find("name", name)
        .firstResultOptional()
        .orElseThrow(() -> new GraftException.NotFound("base model", "'" + name + "'"));
  }
}
