package dev.graft.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.core.GraftException;
import dev.graft.experiments.MetricPoint;
import dev.graft.experiments.search.RunSearch;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/** The experiment history as users query it: search, metric histories and run comparisons. */
@ApplicationScoped
public class RunHistory {

  /** Most runs one comparison takes. */
  public static final int MAX_COMPARED = 100;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final RunSearch search;
  private final RunStore store;

  RunHistory(RunSearch search, RunStore store) {
    this.search = search;
    this.store = store;
  }

  /** A page of runs as lists show them. */
  public record SearchPage(List<RunView> runs, String nextPageToken) {}

  public SearchPage search(RunSearch.Query query) {
    RunSearch.Page page = search.search(query);
    return new SearchPage(store.listed(page.runIds()), page.nextPageToken());
  }

  /** Every point of the run's metrics {@code keys} (all when empty), by key. */
  public Map<String, List<MetricPoint>> history(long runId, List<String> keys) {
    for (String k : keys) {
      if (k.isBlank()) {
        throw new GraftException.InvalidArgument("keys must not contain an empty key");
      }
    }
    return store.history(runId, List.copyOf(new LinkedHashSet<>(keys)));
  }

  /** Runs side by side. */
  public record Comparison(
      List<RunView> runs,
      List<Difference> differences,
      int equalParams,
      List<MetricRow> metrics,
      boolean sameSplit,
      List<String> splitHashes) {}

  /** A configuration key whose values differ; values as JSON text, "" when absent. */
  public record Difference(String key, List<String> values) {}

  /**
   * A metric across the runs: last and best value per run (NaN when absent) and the index of the
   * run with the best value (-1 when none has it).
   */
  public record MetricRow(
      String key, boolean higherIsBetter, List<Double> last, List<Double> best, int bestRun) {}

  public Comparison compare(List<Long> runIds) {
    if (runIds.size() < 2 || runIds.size() > MAX_COMPARED) {
      throw new GraftException.InvalidArgument(
          "run_ids: give 2-" + MAX_COMPARED + " runs to compare; got " + runIds.size());
    }
    if (new HashSet<>(runIds).size() != runIds.size()) {
      throw new GraftException.InvalidArgument("run_ids: each run may appear once");
    }
    List<RunView> views = store.listed(runIds);
    if (views.size() != runIds.size()) {
      Set<Long> found = new HashSet<>();
      views.forEach(v -> found.add(v.id()));
      Long missing = runIds.stream().filter(id -> !found.contains(id)).findFirst().orElseThrow();
      throw new GraftException.NotFound("run", missing);
    }
    List<Map<String, String>> params = new ArrayList<>();
    Set<String> keys = new TreeSet<>();
    for (long id : runIds) {
      Map<String, String> flat = new TreeMap<>();
      flatten("", store.params(id), flat);
      params.add(flat);
      keys.addAll(flat.keySet());
    }
    List<Difference> differences = new ArrayList<>();
    int equal = 0;
    for (String key : keys) {
      List<String> values = params.stream().map(p -> p.getOrDefault(key, "")).toList();
      if (new HashSet<>(values).size() > 1) {
        differences.add(new Difference(key, values));
      } else {
        equal++;
      }
    }
    List<String> splits = new ArrayList<>();
    boolean sameSplit = true;
    for (RunView v : views) {
      if (v.splitHash().isEmpty()) {
        sameSplit = false;
      } else if (!splits.contains(v.splitHash())) {
        splits.add(v.splitHash());
      }
    }
    sameSplit = sameSplit && splits.size() == 1;
    return new Comparison(views, differences, equal, metricRows(runIds, views), sameSplit, splits);
  }

  private List<MetricRow> metricRows(List<Long> runIds, List<RunView> views) {
    Map<Long, Integer> index = new HashMap<>();
    for (int i = 0; i < runIds.size(); i++) {
      index.put(runIds.get(i), i);
    }
    Map<String, double[][]> byKey = new TreeMap<>();
    for (RunStore.MetricSummary m : store.metricSummaries(runIds)) {
      double[][] lastBest = byKey.computeIfAbsent(m.key(), k -> nans(runIds.size()));
      int i = index.get(m.runId());
      lastBest[0][i] = m.last();
      lastBest[1][i] = higherIsBetter(m.key()) ? m.max() : m.min();
    }
    Map<String, double[][]> test = new TreeMap<>();
    for (int i = 0; i < views.size(); i++) {
      for (Map.Entry<String, Double> e : views.get(i).testMetrics().entrySet()) {
        double[][] lastBest = test.computeIfAbsent("test." + e.getKey(), k -> nans(views.size()));
        lastBest[0][i] = e.getValue();
        lastBest[1][i] = e.getValue();
      }
    }
    byKey.putAll(new LinkedHashMap<>(test));
    List<MetricRow> rows = new ArrayList<>();
    for (Map.Entry<String, double[][]> e : byKey.entrySet()) {
      boolean higher = higherIsBetter(e.getKey());
      double[] best = e.getValue()[1];
      int bestRun = -1;
      for (int i = 0; i < best.length; i++) {
        if (!Double.isNaN(best[i])
            && (bestRun < 0 || (higher ? best[i] > best[bestRun] : best[i] < best[bestRun]))) {
          bestRun = i;
        }
      }
      rows.add(new MetricRow(e.getKey(), higher, boxed(e.getValue()[0]), boxed(best), bestRun));
    }
    return rows;
  }

  /** Losses and errors are better small; accuracies, F1 and the like better large. */
  static boolean higherIsBetter(String key) {
    String k = key.toLowerCase(java.util.Locale.ROOT);
    return !(k.contains("loss")
        || k.contains("error")
        || k.endsWith("seconds")
        || k.contains("memory"));
  }

  @SuppressWarnings("unchecked")
  private static void flatten(String prefix, Map<String, Object> map, Map<String, String> out) {
    for (Map.Entry<String, Object> e : map.entrySet()) {
      String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
      if (e.getValue() instanceof Map<?, ?> inner) {
        flatten(key, (Map<String, Object>) inner, out);
      } else {
        try {
          out.put(key, JSON.writeValueAsString(e.getValue()));
        } catch (JsonProcessingException ex) {
          out.put(key, String.valueOf(e.getValue()));
        }
      }
    }
  }

  private static double[][] nans(int n) {
    double[][] out = new double[2][n];
    java.util.Arrays.fill(out[0], Double.NaN);
    java.util.Arrays.fill(out[1], Double.NaN);
    return out;
  }

  private static List<Double> boxed(double[] values) {
    List<Double> out = new ArrayList<>(values.length);
    for (double v : values) {
      out.add(v);
    }
    return out;
  }
}
