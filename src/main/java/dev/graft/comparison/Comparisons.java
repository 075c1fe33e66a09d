package dev.graft.comparison;

import dev.graft.core.GraftException;
import dev.graft.data.Dataset;
import dev.graft.experiments.Experiments;
import dev.graft.training.RunSpec;
import dev.graft.training.RunStore;
import dev.graft.training.RunView;
import dev.graft.training.Runs;
import dev.graft.training.Strategy;
import io.quarkus.panache.common.Sort;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * CompareStrategies: one ordinary run per (strategy, training-set size, repeat), all on one split
 * (same validation and test examples; nested training subsets, since a smaller max_train_examples
 * keeps a prefix of the same seeded per-class order), grouped under a stored comparison whose table
 * is computed from its runs whenever it is read.
 */
@ApplicationScoped
public class Comparisons {

  private static final Logger LOG = Logger.getLogger(Comparisons.class);
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,100}");

  /** Most runs one comparison may queue. */
  public static final int MAX_RUNS = 100;

  private final Runs runs;
  private final RunStore store;
  private final Experiments experiments;
  private final ComparisonRepository comparisons;
  private final ComparisonRunRepository members;
  private final ComparisonProbes probes;

  Comparisons(
      Runs runs,
      RunStore store,
      Experiments experiments,
      ComparisonRepository comparisons,
      ComparisonRunRepository members,
      ComparisonProbes probes) {
    this.runs = runs;
    this.store = store;
    this.experiments = experiments;
    this.comparisons = comparisons;
    this.members = members;
    this.probes = probes;
  }

  /** What a comparison asks for, before its runs exist. */
  public record Request(
      long experimentId,
      String name,
      String baseModel,
      String dataset,
      List<Strategy> strategies,
      List<Integer> sizes,
      int repeats,
      ComparisonRecord.ProbeRequest probe) {}

  /** One run to queue: its cell and its full configuration. */
  public record NewRun(Strategy strategy, int trainingExamples, int repeat, RunSpec spec) {}

  /** The default sizes: 5%, 20% and all of the training part. */
  public static final List<Double> DEFAULT_SIZES = List.of(0.05, 0.2, 1.0);

  /** The default strategies, in table order. */
  public static final List<Strategy> DEFAULT_STRATEGIES =
      List.of(
          Strategy.TRANSFER_LEARNING,
          Strategy.FINE_TUNING,
          Strategy.GRADUAL,
          Strategy.FROM_SCRATCH);

  /**
   * Training examples per requested size, ascending and distinct: a value in (0, 1] is a fraction
   * of the training part of the split (exact per class, as {@code Splits} computes it), one above 1
   * a count.
   */
  @Transactional
  public List<Integer> sizes(
      String datasetName, double validationFraction, double testFraction, List<Double> requested) {
    Dataset dataset = store.dataset(datasetName);
    long available = 0;
    for (Long n : dataset.classCounts.values()) {
      long nTest = Math.round(n * testFraction);
      long nValidation = Math.min(Math.round(n * validationFraction), n - nTest);
      available += n - nTest - nValidation;
    }
    int classes = dataset.classNames.size();
    TreeSet<Integer> out = new TreeSet<>();
    for (double size : requested.isEmpty() ? DEFAULT_SIZES : requested) {
      if (!(size > 0) || Double.isInfinite(size)) {
        throw new GraftException.InvalidArgument(
            "training_sizes must be fractions in (0, 1] or counts above 1; got " + size);
      }
      long count;
      if (size <= 1) {
        count = Math.round(size * available);
      } else {
        if (size != Math.rint(size)) {
          throw new GraftException.InvalidArgument(
              "training size "
                  + size
                  + " is above 1, so it is a count of examples: use a whole"
                  + " number, or a fraction in (0, 1]");
        }
        count = (long) size;
      }
      if (count > available) {
        throw new GraftException.InvalidArgument(
            "training size "
                + fmt(size)
                + " asks for "
                + count
                + " examples but the training part"
                + " of dataset '"
                + datasetName
                + "' holds "
                + available
                + " (validation "
                + validationFraction
                + ", test "
                + testFraction
                + ")");
      }
      if (count < classes) {
        throw new GraftException.InvalidArgument(
            "training size "
                + fmt(size)
                + " gives "
                + count
                + " examples, fewer than the "
                + classes
                + " classes of dataset '"
                + datasetName
                + "': use at least one example"
                + " per class");
      }
      out.add((int) count);
    }
    return List.copyOf(out);
  }

  /** Stores the comparison and queues its runs. */
  public ComparisonView start(Request request, List<NewRun> newRuns) {
    if (!NAME.matcher(request.name()).matches()) {
      throw new GraftException.InvalidArgument(
          "name '"
              + request.name()
              + "' must be 1-100 characters of letters, digits, '.', '_'"
              + " and '-'");
    }
    if (newRuns.isEmpty() || newRuns.size() > MAX_RUNS) {
      throw new GraftException.InvalidArgument(
          "this comparison would queue "
              + newRuns.size()
              + " runs; use 1-"
              + MAX_RUNS
              + " (strategies × training_sizes × repeats)");
    }
    experiments.get(request.experimentId()); // NOT_FOUND before anything is stored
    long id = create(request);
    List<Long> started = new ArrayList<>();
    try {
      for (NewRun n : newRuns) {
        RunView run = runs.start(n.spec());
        started.add(run.id());
        addMember(id, n, run.id());
      }
    } catch (RuntimeException e) {
      // All or nothing: a run that cannot be queued (validated like StartRun) cancels the rest.
      for (long runId : started) {
        try {
          runs.cancel(runId);
        } catch (RuntimeException ignored) {
          // it may have ended already
        }
      }
      delete(id);
      throw e;
    }
    LOG.infof("Comparison %d '%s' queued %d runs", id, request.name(), started.size());
    if (request.probe() != null) {
      probes.submit(id);
    }
    return get(id);
  }

  @Transactional
  long create(Request request) {
    ComparisonRecord c = new ComparisonRecord();
    c.experimentId = request.experimentId();
    c.name = request.name();
    c.baseModel = request.baseModel();
    c.dataset = request.dataset();
    c.strategies = request.strategies().stream().map(Enum::name).toList();
    c.sizes = request.sizes();
    c.repeats = request.repeats();
    c.probeRequest = request.probe();
    c.createdAt = Instant.now().truncatedTo(ChronoUnit.MICROS);
    comparisons.persist(c);
    return c.id;
  }

  @Transactional
  void addMember(long comparisonId, NewRun n, long runId) {
    ComparisonRunRecord m = new ComparisonRunRecord();
    m.comparisonId = comparisonId;
    m.runId = runId;
    m.strategy = n.strategy().name();
    m.trainingExamples = n.trainingExamples();
    m.repeat = n.repeat();
    members.persist(m);
  }

  @Transactional
  void delete(long comparisonId) {
    members.delete("comparisonId", comparisonId);
    comparisons.deleteById(comparisonId);
  }

  /** The comparison and its table as of now. */
  @Transactional
  public ComparisonView get(long id) {
    ComparisonRecord c = find(id);
    List<ComparisonRunRecord> rows = members.find("comparisonId", Sort.by("runId"), id).list();
    List<RunView> views = store.listed(rows.stream().map(r -> r.runId).toList());
    Map<Long, RunView> byId = new java.util.HashMap<>();
    views.forEach(v -> byId.put(v.id(), v));
    List<ComparisonTable.Member> list = new ArrayList<>();
    for (ComparisonRunRecord r : rows) {
      RunView v = byId.get(r.runId);
      if (v != null) {
        list.add(
            new ComparisonTable.Member(
                Strategy.valueOf(r.strategy), r.trainingExamples, r.repeat, v));
      }
    }
    List<Strategy> strategies = c.strategies.stream().map(Strategy::valueOf).toList();
    ComparisonTable.Result t = ComparisonTable.compute(strategies, c.sizes, list);
    String probeStatus;
    if (c.probeRequest == null) {
      probeStatus = "";
    } else if (c.probeSweep != null) {
      probeStatus = "SUCCEEDED";
    } else if (c.probeError != null) {
      probeStatus = "FAILED";
    } else {
      probeStatus = "RUNNING";
    }
    String status;
    if (t.done() < t.total() || probeStatus.equals("RUNNING")) {
      status = "RUNNING";
    } else if (c.cancelled) {
      status = "CANCELLED";
    } else if (list.stream().allMatch(m -> m.run().status().name().equals("SUCCEEDED"))) {
      status = "SUCCEEDED";
    } else {
      status = "PARTIAL";
    }
    return new ComparisonView(
        c.id,
        c.experimentId,
        c.name,
        c.baseModel,
        c.dataset,
        status,
        t.done(),
        t.total(),
        t.cells(),
        t.verdicts(),
        c.probeSweep == null
            ? t.recommendation()
            : t.recommendation() + " " + ComparisonTable.probeSentence(c.probeSweep),
        c.createdAt,
        t.splitHash(),
        probeStatus,
        c.probeSweep,
        c.probeError == null ? "" : c.probeError);
  }

  /** Ids of the comparisons of an experiment (all when 0), newest first, at most {@code limit}. */
  @Transactional
  public List<Long> ids(long experimentId, int limit) {
    var query =
        experimentId > 0
            ? comparisons.find("experimentId", Sort.by("id").descending(), experimentId)
            : comparisons.findAll(Sort.by("id").descending());
    return query.page(0, limit).list().stream().map(c -> c.id).toList();
  }

  /** Cancels every run of the comparison that has not ended. */
  public ComparisonView cancel(long id) {
    markCancelled(id);
    for (ComparisonRunRecord r : runIds(id)) {
      if (!store.status(r.runId).isFinal()) {
        try {
          runs.cancel(r.runId);
        } catch (GraftException.FailedPrecondition ended) {
          // ended between the check and the cancel
        }
      }
    }
    return get(id);
  }

  @Transactional
  void markCancelled(long id) {
    ComparisonRecord c = find(id);
    c.cancelled = true;
    if (c.probeRequest != null && c.probeSweep == null && c.probeError == null) {
      c.probeError = "cancelled with the comparison before the probe sweep ended";
    }
  }

  @Transactional
  List<ComparisonRunRecord> runIds(long id) {
    find(id);
    return members.find("comparisonId", Sort.by("runId"), id).list();
  }

  private ComparisonRecord find(long id) {
    return comparisons
        .findByIdOptional(id)
        .orElseThrow(() -> new GraftException.NotFound("comparison", id));
  }

  private static String fmt(double size) {
    return size == Math.rint(size) ? String.valueOf((long) size) : String.valueOf(size);
  }
}
