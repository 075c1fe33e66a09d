package dev.graft.experiments.search;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * SearchRuns over 10,000 runs × 20 metric keys × 20 epochs (4 M metric points) in a real PostgreSQL
 * with Graft's schema: a metric filter with a metric ordering, against the page query of a plain
 * ListRuns and against the pre-summary ListRuns (a page, then every point of each run). Each query
 * is timed over many repetitions in the same run; reported as p50/p99 and ratios, with the search's
 * query plan.
 */
@Tag("bench")
class RunSearchBench {

  private static final int RUNS = 10_000;
  private static final int KEYS = 20;
  private static final int EPOCHS = 20;
  private static final int WARMUP = 30;
  private static final int REPEATS = 300;

  @Test
  void searchWithMetricFilterAndOrderingOverTenThousandRuns() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("target"), "search-bench-");
    try (EmbeddedPostgres pg =
        EmbeddedPostgres.builder()
            .setDataDirectory(dir.resolve("data"))
            .setOverrideWorkingDirectory(dir.resolve("bin").toFile())
            .start()) {
      DataSource ds = pg.getPostgresDatabase();
      Flyway.configure().dataSource(ds).locations("classpath:db/migration").load().migrate();
      long seeding = System.nanoTime();
      seed(ds);
      System.out.printf(
          "seeded %d runs, %d metric points in %.1f s%n",
          RUNS, (long) RUNS * KEYS * EPOCHS, (System.nanoTime() - seeding) / 1e9);

      RunSearch search = new RunSearch(ds);
      RunSearch.Query query =
          new RunSearch.Query(
              "metrics.val_accuracy.max > 0.9 AND strategy IN ('TRANSFER_LEARNING','FINE_TUNING')"
                  + " AND params.learning_rate < 0.05",
              List.of("metrics.val_accuracy.max DESC"),
              List.of(),
              50,
              "");
      RunSearch.Page first = search.search(query);
      if (first.runIds().size() != 50 || first.nextPageToken().isEmpty()) {
        throw new AssertionError("the bench query should fill pages: " + first.runIds().size());
      }
      double[] searchMs = time(() -> search.search(query));
      RunSearch.Query second =
          new RunSearch.Query(
              query.filter(), query.orderBy(), List.of(), 50, first.nextPageToken());
      double[] secondPageMs = time(() -> search.search(second));
      double[] listMs = time(() -> listPage(ds, false));
      double[] oldListMs = time(() -> listPage(ds, true));

      System.out.println();
      System.out.println("| query (page of 50) | p50 ms | p99 ms | p50 vs ListRuns page |");
      System.out.println("|---|---|---|---|");
      row("SearchRuns: metric filter + metric order, first page", searchMs, listMs);
      row("SearchRuns: same, second page (keyset token)", secondPageMs, listMs);
      row("ListRuns page (newest first, last values from the summary)", listMs, listMs);
      row("ListRuns before the summary (page + every point of each run)", oldListMs, listMs);
      System.out.println();
      RunSearch.Compiled sql = search.compile(query);
      try (Connection c = ds.getConnection();
          PreparedStatement st =
              RunSearch.prepare(
                  c,
                  new RunSearch.Compiled(
                      "EXPLAIN (ANALYZE, BUFFERS) " + sql.sql(), sql.parameters()));
          ResultSet rs = st.executeQuery()) {
        System.out.println("EXPLAIN ANALYZE of the search:");
        while (rs.next()) {
          System.out.println("  " + rs.getString(1));
        }
      }
    }
  }

  private interface Call {
    void run() throws Exception;
  }

  private static double[] time(Call call) throws Exception {
    for (int i = 0; i < WARMUP; i++) {
      call.run();
    }
    double[] ms = new double[REPEATS];
    for (int i = 0; i < REPEATS; i++) {
      long t = System.nanoTime();
      call.run();
      ms[i] = (System.nanoTime() - t) / 1e6;
    }
    Arrays.sort(ms);
    return ms;
  }

  private static void row(String name, double[] ms, double[] baseline) {
    System.out.printf(
        "| %s | %.2f | %.2f | %.2f× |%n",
        name, p(ms, 0.50), p(ms, 0.99), p(ms, 0.50) / p(baseline, 0.50));
  }

  private static double p(double[] sorted, double q) {
    return sorted[Math.min(sorted.length - 1, (int) Math.floor(q * sorted.length))];
  }

  /** ListRuns' page query, then the page's metrics: last values, or (before) every point. */
  private static void listPage(DataSource ds, boolean everyPoint) throws SQLException {
    List<Long> ids = new ArrayList<>();
    try (Connection c = ds.getConnection()) {
      try (PreparedStatement st =
          c.prepareStatement("SELECT id FROM run WHERE id < ? ORDER BY id DESC LIMIT 51")) {
        st.setLong(1, Long.MAX_VALUE);
        try (ResultSet rs = st.executeQuery()) {
          while (rs.next()) {
            ids.add(rs.getLong(1));
          }
        }
      }
      if (everyPoint) {
        for (long id : ids.subList(0, 50)) {
          try (PreparedStatement st =
              c.prepareStatement(
                  "SELECT key, epoch, value FROM metric_point WHERE run_id = ? ORDER BY epoch, key")) {
            st.setLong(1, id);
            drain(st);
          }
        }
      } else {
        try (PreparedStatement st =
            c.prepareStatement(
                "SELECT run_id, key, last_step, last_value FROM run_metric_summary"
                    + " WHERE run_id = ANY(?) ORDER BY run_id, key")) {
          st.setArray(1, c.createArrayOf("bigint", ids.subList(0, 50).toArray()));
          drain(st);
        }
      }
    }
  }

  private static void drain(PreparedStatement st) throws SQLException {
    try (ResultSet rs = st.executeQuery()) {
      while (rs.next()) {
        rs.getObject(1);
      }
    }
  }

  private static void seed(DataSource ds) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement st = c.createStatement()) {
      st.execute(
          "INSERT INTO experiment (name, created_at, updated_at) "
              + "SELECT 'bench-' || g, now(), now() FROM generate_series(1, 10) g");
      st.execute(
          "INSERT INTO dataset (name, kind, source, status, class_names, class_counts, "
              + "example_count, example_shape, storage_path, created_at) "
              + "SELECT 'data-' || g, 'IMAGE', 'UPLOAD', 'READY', '[]', '{}', 0, '[]', '-', now()"
              + " FROM generate_series(1, 5) g");
      st.execute("SELECT setseed(0.42)");
      st.execute(
          "INSERT INTO run (experiment_id, name, strategy, status, dataset_id, config, params, "
              + "seed, requested_device, created_at, updated_at) "
              + "SELECT 1 + g % 10, 'run-' || g, "
              + "(ARRAY['TRANSFER_LEARNING','FINE_TUNING','GRADUAL','FROM_SCRATCH'])[1 + g % 4], "
              + "'SUCCEEDED', 1 + g % 5, '{}', "
              + "jsonb_build_object('learning_rate', power(10, -1 - 3 * random()), "
              + "'epochs', 5 + g % 20, 'batch_size', 32, "
              + "'freeze', jsonb_build_object('train_last_blocks', g % 3)), "
              + "g, 'AUTO', now() - (g || ' seconds')::interval, now() "
              + "FROM generate_series(1, "
              + RUNS
              + ") g");
      // Points without the per-row trigger, then the summary in one pass, as V14 backfills.
      st.execute("ALTER TABLE metric_point DISABLE TRIGGER USER");
      st.execute(
          "INSERT INTO metric_point (run_id, key, step, epoch, value, recorded_at) "
              + "SELECT r.id, CASE k WHEN 0 THEN 'val_accuracy' WHEN 1 THEN 'val_loss' "
              + "WHEN 2 THEN 'train_loss' WHEN 3 THEN 'val_macro_f1' ELSE 'metric_' || k END, "
              + "e, e, random(), now() FROM run r, generate_series(0, "
              + (KEYS - 1)
              + ") k, "
              + "generate_series(0, "
              + (EPOCHS - 1)
              + ") e");
      st.execute("ALTER TABLE metric_point ENABLE TRIGGER USER");
      st.execute(
          "INSERT INTO run_metric_summary (run_id, key, last_step, last_value, min_value, "
              + "max_value, points) SELECT run_id, key, (array_agg(step ORDER BY step DESC))[1], "
              + "(array_agg(value ORDER BY step DESC))[1], min(value), max(value), count(*) "
              + "FROM metric_point GROUP BY run_id, key");
      st.execute("ANALYZE");
    }
  }
}
