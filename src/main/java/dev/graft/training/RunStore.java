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
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

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
    return createQueued(spec, baseModelId, datasetId, parentRunId, versions, 1);
  }

  /** A QUEUED run that may be claimed up to {@code maxAttempts} times (automatic resumes). */
  @Transactional
  public long createQueued(
      RunSpec spec,
      Long baseModelId,
      long datasetId,
      Long parentRunId,
      Map<String, String> versions,
      int maxAttempts) {
    Run r = new Run();
    r.maxAttempts = Math.max(1, maxAttempts);
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

  /**
   * QUEUED to RUNNING without a lease; false when the run is no longer queued. For tests that write
   * runs' rows directly; trainers claim with {@link #claimNext}.
   */
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
    fence(id);
    Run r = find(id);
    r.device = device;
    r.splitHash = splitHash;
    r.trainableParams = trainable;
    r.totalParams = total;
    r.summary = RunSummary.fromStored(r.summary).started(featureCache, labels).toStored();
    r.updatedAt = now();
  }

  /** Records the library versions of the trainer that trains the run. */
  @Transactional
  public void trainedWith(long id, Map<String, String> versions) {
    fence(id);
    find(id).versions = new LinkedHashMap<>(versions);
  }

  /** Records one epoch's metrics, replacing values of that epoch recorded before a resume. */
  @Transactional
  public void epoch(long id, int epoch, Map<String, Double> values) {
    fence(id);
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

  /** Records the plan a run chose when it started. */
  @Transactional
  public void planned(long id, TrainingPlan plan) {
    fence(id);
    Run r = find(id);
    r.summary = RunSummary.fromStored(r.summary).planned(plan).toStored();
    r.updatedAt = now();
  }

  /** Records the test results. */
  @Transactional
  public void tested(
      long id,
      Map<String, Double> testMetrics,
      List<Long> confusionMatrix,
      long testExamples,
      Long peakMemoryBytes) {
    fence(id);
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
    fence(id);
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
    fence(id);
    Run r = find(id);
    r.status = status;
    r.error = error;
    r.finishedAt = now();
    r.updatedAt = r.finishedAt;
    r.leaseExpiresAt = null; // the owner stays: who trained it last
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
    r.owner = null;
    r.leaseExpiresAt = null;
    r.cancelRequested = false;
  }

  /**
   * At start-up of the all-in-one service on its embedded database: every run left RUNNING belongs
   * to a previous incarnation of this process and becomes INTERRUPTED.
   */
  @Transactional
  public List<Long> interruptRunning() {
    List<Long> ids = runs.find("status", RunStatus.RUNNING).stream().map(r -> r.id).toList();
    for (Long id : ids) {
      finish(id, RunStatus.INTERRUPTED, "the service stopped while the run was training");
    }
    return ids;
  }

  // --- The queue: claims, leases, expiry. Lease times are the database's clock (now()), so that
  // trainers on hosts with skewed clocks agree on when a lease expires.

  /** A trainer's hold on a run: the owner and the claim's number (attempts after the claim). */
  public record Lease(String owner, int attempt) {}

  /** Marks a lease this process gave up: every fenced write of its run fails. */
  private static final Lease REVOKED = new Lease("", -1);

  /** The leases this process holds, by run: every job write of such a run is conditional. */
  private final Map<Long, Lease> held = new ConcurrentHashMap<>();

  /** A claimed run. */
  public record Claim(long id, Lease lease) {}

  /**
   * Claims the oldest QUEUED run that asks for one of {@code devices} (AUTO, CPU, GPU), is not in
   * {@code exclude} and, unless {@code only} is null, is one of {@code only}: RUNNING, owned by
   * {@code owner}, leased for {@code lease}, one more attempt. {@code FOR UPDATE SKIP LOCKED}: two
   * trainers never claim the same run, and neither waits for the other.
   */
  @Transactional
  public Optional<Claim> claimNext(
      String owner,
      Duration lease,
      Collection<String> devices,
      Collection<Long> exclude,
      Collection<Long> only) {
    if (devices.isEmpty() || (only != null && only.isEmpty())) {
      return Optional.empty();
    }
    EntityManager em = runs.getEntityManager();
    var query =
        em.createNativeQuery(
                "SELECT id FROM run WHERE status = 'QUEUED' AND requested_device IN (:devices)"
                    + " AND id NOT IN (:exclude)"
                    + (only == null ? "" : " AND id IN (:only)")
                    + " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED")
            .setParameter("devices", devices)
            .setParameter("exclude", withSentinel(exclude));
    if (only != null) {
      query.setParameter("only", only);
    }
    List<?> ids = query.getResultList();
    if (ids.isEmpty()) {
      return Optional.empty();
    }
    long id = ((Number) ids.get(0)).longValue();
    em.createNativeQuery(
            "UPDATE run SET status = 'RUNNING', owner = :owner, attempts = attempts + 1,"
                + " lease_expires_at = now() + :ms * interval '1 millisecond',"
                + " started_at = :now, updated_at = :now, error = NULL, finished_at = NULL,"
                + " cancel_requested = FALSE WHERE id = :id")
        .setParameter("owner", owner)
        .setParameter("ms", lease.toMillis())
        .setParameter("now", now())
        .setParameter("id", id)
        .executeUpdate();
    int attempt =
        ((Number)
                em.createNativeQuery("SELECT attempts FROM run WHERE id = :id")
                    .setParameter("id", id)
                    .getSingleResult())
            .intValue();
    Lease l = new Lease(owner, attempt);
    held.put(id, l);
    return Optional.of(new Claim(id, l));
  }

  /** What a heartbeat found. */
  public enum Renewal {
    RENEWED,
    /** Renewed, and CancelRun asked (on some replica) for the run to stop. */
    CANCEL_REQUESTED,
    /** The run is no longer this lease's: another trainer resumed it, or it ended. */
    LOST
  }

  /** Extends a held lease by {@code lease} from now, if it is still this owner's. */
  @Transactional
  public Renewal renew(long id, Lease l, Duration lease) {
    EntityManager em = runs.getEntityManager();
    List<?> rows =
        em.createNativeQuery(
                "UPDATE run SET lease_expires_at = now() + :ms * interval '1 millisecond'"
                    + " WHERE id = :id AND owner = :owner AND attempts = :attempt"
                    + " AND status = 'RUNNING' RETURNING cancel_requested")
            .setParameter("ms", lease.toMillis())
            .setParameter("id", id)
            .setParameter("owner", l.owner())
            .setParameter("attempt", l.attempt())
            .getResultList();
    if (rows.isEmpty()) {
      return Renewal.LOST;
    }
    return Boolean.TRUE.equals(rows.get(0)) ? Renewal.CANCEL_REQUESTED : Renewal.RENEWED;
  }

  /**
   * Gives up a held lease: the run's writes from this process fail from now on; {@code release}
   * with {@code forget} once its job ended.
   */
  public void revoke(long id) {
    held.computeIfPresent(id, (k, v) -> REVOKED);
  }

  /** Forgets a lease once its job ended. */
  public void forget(long id) {
    held.remove(id);
  }

  /** The lease this process holds on a run, if any. */
  public Optional<Lease> lease(long id) {
    return Optional.ofNullable(held.get(id));
  }

  /**
   * Throws {@link CancelToken.Cancelled} (LEASE_LOST) unless the run is still RUNNING under the
   * lease this process holds; no-op for runs this process holds no lease on. Locks the run's row
   * until the caller's transaction ends, so that the write that follows cannot race a takeover.
   */
  private void fence(long id) {
    Lease l = held.get(id);
    if (l == null) {
      return;
    }
    List<?> rows =
        runs.getEntityManager()
            .createNativeQuery(
                "SELECT id FROM run WHERE id = :id AND owner = :owner AND attempts = :attempt"
                    + " AND status = 'RUNNING' FOR UPDATE")
            .setParameter("id", id)
            .setParameter("owner", l.owner())
            .setParameter("attempt", l.attempt())
            .getResultList();
    if (rows.isEmpty()) {
      throw new CancelToken.Cancelled(CancelToken.Reason.LEASE_LOST);
    }
  }

  /** Fails with LEASE_LOST unless this process still holds the run's lease (see fence). */
  @Transactional
  public void checkLease(long id) {
    fence(id);
  }

  /** A run whose owner stopped renewing its lease, as the sweep ended it. */
  public record Expired(
      long id,
      String owner,
      Instant leaseExpiredAt,
      int attempts,
      int maxAttempts,
      RunStatus endedAs,
      String message) {}

  /**
   * Ends every RUNNING run whose lease expired (not in {@code exclude}; in {@code only} unless
   * null): INTERRUPTED, naming the owner that stopped renewing, or CANCELLED when CancelRun had
   * asked for it. Rows another sweeper holds are skipped.
   */
  @Transactional
  @SuppressWarnings("unchecked")
  public List<Expired> expireLeases(Collection<Long> exclude, Collection<Long> only) {
    EntityManager em = runs.getEntityManager();
    var query =
        em.createNativeQuery(
                "SELECT id, owner, lease_expires_at, attempts, max_attempts, cancel_requested"
                    + " FROM run WHERE status = 'RUNNING'"
                    + " AND (lease_expires_at IS NULL OR lease_expires_at < now())"
                    + " AND id NOT IN (:exclude)"
                    + (only == null ? "" : " AND id IN (:only)")
                    + " ORDER BY id FOR UPDATE SKIP LOCKED")
            .setParameter("exclude", withSentinel(exclude));
    if (only != null) {
      query.setParameter("only", withSentinel(only));
    }
    List<Object[]> rows = query.getResultList();
    List<Expired> out = new ArrayList<>();
    for (Object[] row : rows) {
      long id = ((Number) row[0]).longValue();
      String owner = row[1] == null ? "(unknown)" : (String) row[1];
      Instant at = row[2] == null ? null : instant(row[2]);
      boolean cancel = Boolean.TRUE.equals(row[5]);
      RunStatus endedAs = cancel ? RunStatus.CANCELLED : RunStatus.INTERRUPTED;
      String message =
          cancel
              ? "cancelled by CancelRun (trainer " + owner + " had stopped renewing its lease)"
              : "trainer "
                  + owner
                  + " stopped renewing its lease"
                  + (at == null ? "" : " at " + at);
      Run r = find(id);
      r.status = endedAs;
      r.error = message;
      r.finishedAt = now();
      r.updatedAt = r.finishedAt;
      r.leaseExpiresAt = null;
      out.add(
          new Expired(
              id,
              owner,
              at,
              ((Number) row[3]).intValue(),
              ((Number) row[4]).intValue(),
              endedAs,
              message));
    }
    return out;
  }

  /**
   * INTERRUPTED to QUEUED with the lease released, only if still INTERRUPTED (a ResumeRun or
   * CancelRun meanwhile wins); true if queued.
   */
  @Transactional
  public boolean requeueInterrupted(long id) {
    return runs.getEntityManager()
            .createNativeQuery(
                "UPDATE run SET status = 'QUEUED', error = NULL, finished_at = NULL,"
                    + " updated_at = :now, owner = NULL, lease_expires_at = NULL,"
                    + " cancel_requested = FALSE WHERE id = :id AND status = 'INTERRUPTED'")
            .setParameter("now", now())
            .setParameter("id", id)
            .executeUpdate()
        == 1;
  }

  /**
   * The end of a run this process trains when the service stops: INTERRUPTED with the lease
   * released, if the lease is still this process's (no-op otherwise). Returns attempts and
   * max_attempts, or empty when the lease was lost.
   */
  @Transactional
  public Optional<int[]> interruptOwned(long id, Lease l, String why) {
    EntityManager em = runs.getEntityManager();
    List<Object[]> rows =
        castRows(
            em.createNativeQuery(
                    "UPDATE run SET status = 'INTERRUPTED', error = :why, finished_at = :now,"
                        + " updated_at = :now, lease_expires_at = NULL"
                        + " WHERE id = :id AND owner = :owner AND attempts = :attempt"
                        + " AND status = 'RUNNING' RETURNING attempts, max_attempts")
                .setParameter("why", why)
                .setParameter("now", now())
                .setParameter("id", id)
                .setParameter("owner", l.owner())
                .setParameter("attempt", l.attempt())
                .getResultList());
    if (rows.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        new int[] {((Number) rows.get(0)[0]).intValue(), ((Number) rows.get(0)[1]).intValue()});
  }

  /**
   * CancelRun for a RUNNING run this process does not train: sets {@code cancel_requested} for its
   * owner's next heartbeat, and ends it CANCELLED at once when its lease has expired (no owner
   * will). True if it ended it.
   */
  @Transactional
  public boolean requestCancel(long id, String why) {
    EntityManager em = runs.getEntityManager();
    em.createNativeQuery(
            "UPDATE run SET cancel_requested = TRUE WHERE id = :id AND status = 'RUNNING'")
        .setParameter("id", id)
        .executeUpdate();
    return em.createNativeQuery(
                "UPDATE run SET status = 'CANCELLED', error = :why, finished_at = :now,"
                    + " updated_at = :now, lease_expires_at = NULL"
                    + " WHERE id = :id AND status = 'RUNNING'"
                    + " AND (lease_expires_at IS NULL OR lease_expires_at < now())")
            .setParameter("why", why)
            .setParameter("now", now())
            .setParameter("id", id)
            .executeUpdate()
        == 1;
  }

  @SuppressWarnings("unchecked")
  private static List<Object[]> castRows(List<?> rows) {
    return (List<Object[]>) rows;
  }

  private static List<Long> withSentinel(Collection<Long> ids) {
    List<Long> out = new ArrayList<>(ids);
    out.add(-1L); // NOT IN () is not SQL
    return out;
  }

  private static Instant instant(Object at) {
    return at instanceof Instant i
        ? i
        : at instanceof java.time.OffsetDateTime o
            ? o.toInstant()
            : ((java.sql.Timestamp) at).toInstant();
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
        r.parentRunId == null ? 0 : r.parentRunId,
        s.plan(),
        r.owner == null ? "" : r.owner,
        r.attempts,
        r.maxAttempts,
        r.leaseExpiresAt);
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
