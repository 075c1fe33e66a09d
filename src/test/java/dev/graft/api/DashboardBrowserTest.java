package dev.graft.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.graft.api.v1.CreateExperimentRequest;
import dev.graft.api.v1.ExperimentServiceGrpc;
import dev.graft.api.v1.HyperParameters;
import dev.graft.api.v1.StartRunRequest;
import dev.graft.api.v1.Strategy;
import dev.graft.experiments.RunStatus;
import dev.graft.support.GraftTest;
import dev.graft.training.RunStore;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Level;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real headless Chromium against the running service: the runs table loads with
 * no console errors, the filter box narrows it (and shows a malformed filter's error inline), and a
 * run's page plots its learning curves with one point per epoch and its confusion matrix.
 * Screenshots go to target/screenshots/.
 */
@QuarkusTest
class DashboardBrowserTest extends GraftTest {

  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

  @Inject RunStore store;
  @Inject DataSource dataSource;

  @Test
  void runsTableFiltersAndARunPagePlotsItsCurves() throws Exception {
    Assumptions.assumeTrue(
        Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "no browser: install Debian's chromium and chromium-driver as root "
            + "(scripts/install-browser.sh does) to run the dashboard test");
    String tag = UUID.randomUUID().toString().substring(0, 8);
    long experiment =
        ExperimentServiceGrpc.newBlockingStub(channel)
            .createExperiment(
                CreateExperimentRequest.newBuilder().setName("dashboard-" + tag).build())
            .getId();
    long dataset = dataset("dash-data-" + tag);
    long tl = run(experiment, "tl-" + tag, Strategy.TRANSFER_LEARNING, dataset, tag, 3, 0.8);
    run(experiment, "ft-" + tag, Strategy.FINE_TUNING, dataset, tag, 2, 0.8);
    run(experiment, "gr-" + tag, Strategy.GRADUAL, dataset, tag, 4, 0.8);
    // A comparison of two strategies at two sizes, stored as CompareStrategies stores one.
    long other =
        ExperimentServiceGrpc.newBlockingStub(channel)
            .createExperiment(
                CreateExperimentRequest.newBuilder().setName("dashboard-cmp-" + tag).build())
            .getId();
    long comparison =
        comparison(
            other,
            "cmp-" + tag,
            tag,
            Map.of(
                run(other, "c-tl-10-" + tag, Strategy.TRANSFER_LEARNING, dataset, tag, 1, 0.7),
                    List.of("TRANSFER_LEARNING", "10"),
                run(other, "c-tl-40-" + tag, Strategy.TRANSFER_LEARNING, dataset, tag, 1, 0.8),
                    List.of("TRANSFER_LEARNING", "40"),
                run(other, "c-ft-10-" + tag, Strategy.FINE_TUNING, dataset, tag, 1, 0.6),
                    List.of("FINE_TUNING", "10"),
                run(other, "c-ft-40-" + tag, Strategy.FINE_TUNING, dataset, tag, 1, 0.9),
                    List.of("FINE_TUNING", "40")));

    int port = ConfigProvider.getConfig().getValue("quarkus.http.test-port", Integer.class);
    String base = "http://localhost:" + port;
    Path shots = Path.of("target", "screenshots");
    Files.createDirectories(shots);
    ChromeDriver driver = browser();
    try {
      WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(30));
      driver.get(base + "/#/?experiment=" + experiment);
      wait.until(d -> rows(d).size() == 3);
      assertEquals(
          List.of("gr-" + tag, "ft-" + tag, "tl-" + tag),
          rows(driver).stream()
              .map(r -> r.findElements(By.tagName("td")).get(1).getText())
              .toList(),
          "newest first");
      save(driver, shots.resolve("dashboard-runs.png"));

      WebElement filter = driver.findElement(By.id("filter"));
      filter.sendKeys("strategy = 'FINE_TUNING' OR metrics.val_accuracy.max > 0.85", Keys.ENTER);
      wait.until(d -> rows(d).size() == 2);
      filter = driver.findElement(By.id("filter"));
      filter.clear();
      filter.sendKeys("strategy = ", Keys.ENTER);
      wait.until(
          d -> d.findElement(By.id("filter-error")).getText().contains("expected a value after ="));
      assertEquals(0, rows(driver).size());

      driver.get(base + "/#/runs/" + tl);
      wait.until(d -> !d.findElements(By.cssSelector("#curves canvas")).isEmpty());
      JavascriptExecutor js = driver;
      Object points =
          js.executeScript(
              "return echarts.getInstanceByDom(document.getElementById('curves')).getOption()"
                  + ".series.find(s => s.name === 'val_accuracy').data.length");
      assertEquals(3L, ((Number) points).longValue(), "one point per epoch");
      Object cells =
          js.executeScript(
              "return echarts.getInstanceByDom(document.getElementById('confusion')).getOption()"
                  + ".series[0].data.length");
      assertEquals(4L, ((Number) cells).longValue(), "2×2 confusion matrix");
      assertTrue(driver.findElement(By.id("lineage")).getText().contains("run " + tl));
      save(driver, shots.resolve("dashboard-run.png"));

      driver.get(base + "/#/comparisons/" + comparison);
      wait.until(d -> !d.findElements(By.cssSelector("#efficiency canvas")).isEmpty());
      Object series =
          js.executeScript(
              "return echarts.getInstanceByDom(document.getElementById('efficiency')).getOption()"
                  + ".series.map(s => s.name + ':' + s.data.map(p => p.join('/')).join(','))");
      assertEquals(
          List.of("TRANSFER_LEARNING:10/0.7,40/0.8", "FINE_TUNING:10/0.6,40/0.9"),
          series,
          "accuracy vs training examples, one line per strategy");
      assertEquals(4, driver.findElements(By.cssSelector("#cells tbody tr")).size());
      String recommendation =
          driver.findElement(By.id("recommendation")).getText().toLowerCase(java.util.Locale.ROOT);
      assertTrue(
          recommendation.contains("with 10 training examples transfer learning is best"),
          recommendation);
      assertTrue(
          recommendation.contains(
              "the best cut point is 'features.1' (32 features, validation accuracy 0.850, +0.050"
                  + " over the base model's feature tensor 'features.2' at 0.800): start transfer"
                  + " learning with cut_point 'features.1'"),
          recommendation);
      wait.until(d -> !d.findElements(By.cssSelector("#probe-chart canvas")).isEmpty());
      Object bars =
          js.executeScript(
              "const o = echarts.getInstanceByDom(document.getElementById('probe-chart'))"
                  + ".getOption(); return o.xAxis[0].data.map((n, i) => n + '=' +"
                  + " o.series[0].data[i].value)");
      assertEquals(
          List.of("features.0=0.55", "features.1=0.85", "features.2=0.8"),
          bars,
          "one bar per cut point, validation accuracy");
      assertEquals(3, driver.findElements(By.cssSelector("#probe-table tbody tr")).size());
      assertEquals(
          "features.1",
          driver
              .findElement(By.cssSelector("#probe-table tbody tr.best td"))
              .getText()
              .split(" ")[0]);
      assertTrue(driver.findElement(By.id("probe-status")).getText().contains("best: features.1"));
      save(driver, shots.resolve("dashboard-comparison.png"));

      List<LogEntry> errors =
          driver.manage().logs().get(LogType.BROWSER).getAll().stream()
              .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
              .toList();
      // The malformed filter's 400 is expected; nothing else may fail.
      List<LogEntry> unexpected =
          errors.stream()
              .filter(e -> !e.getMessage().contains("/api/runs?filter=strategy"))
              .toList();
      assertTrue(
          unexpected.isEmpty(),
          unexpected.stream().map(LogEntry::getMessage).collect(Collectors.joining("\n")));
    } catch (RuntimeException | AssertionError e) {
      save(driver, shots.resolve("dashboard-failure.png"));
      throw new AssertionError(
          "dashboard test failed at "
              + driver.getCurrentUrl()
              + "; browser console:\n"
              + driver.manage().logs().get(LogType.BROWSER).getAll().stream()
                  .map(LogEntry::getMessage)
                  .collect(Collectors.joining("\n"))
              + "\npage text:\n"
              + driver.findElement(By.tagName("body")).getText(),
          e);
    } finally {
      driver.quit();
    }
  }

  private static List<WebElement> rows(org.openqa.selenium.WebDriver d) {
    return d.findElements(By.cssSelector("#runs tbody tr"));
  }

  private static ChromeDriver browser() throws Exception {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    Path profile = Files.createTempDirectory("graft-chromium-");
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        "--user-data-dir=" + profile);
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(new File(CHROMEDRIVER.toString()))
            .usingAnyFreePort()
            .build();
    return new ChromeDriver(service, options);
  }

  private static void save(ChromeDriver driver, Path file) throws Exception {
    File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
    Files.copy(shot.toPath(), file, StandardCopyOption.REPLACE_EXISTING);
  }

  /** A stored probe sweep as ComparisonProbes stores one: the middle cut point is best. */
  private static final String PROBE_SWEEP =
      "{\"probes\":["
          + probe("features.0", "a", 16, 0.55, false)
          + ","
          + probe("features.1", "b", 32, 0.85, false)
          + ","
          + probe("features.2", "c", 64, 0.8, true)
          + "],\"bestCutPoint\":\"features.1\",\"featureSeconds\":0.12,\"totalSeconds\":0.9,"
          + "\"trainExamples\":40,\"validationExamples\":12,\"splitHash\":\"h\","
          + "\"provider\":\"CPU\"}";

  private static String probe(
      String name, String tensor, int size, double accuracy, boolean featureTensor) {
    return String.format(
        java.util.Locale.ROOT,
        "{\"name\":\"%s\",\"tensor\":\"%s\",\"featureSize\":%d,\"shape\":[%d,7,7],"
            + "\"valAccuracy\":%s,\"valLoss\":0.5,\"l2\":0.001,\"trainSeconds\":0.2,"
            + "\"featureTensor\":%s}",
        name,
        tensor,
        size,
        size,
        accuracy,
        featureTensor);
  }

  private long comparison(long experiment, String name, String tag, Map<Long, List<String>> runs)
      throws Exception {
    try (Connection c = dataSource.getConnection()) {
      long id;
      try (PreparedStatement st =
          c.prepareStatement(
              "INSERT INTO comparison (experiment_id, name, base_model, dataset, strategies, sizes,"
                  + " repeats, created_at, probe_request, probe_sweep) VALUES (?, ?, 'fixture', ?, "
                  + "'[\"TRANSFER_LEARNING\",\"FINE_TUNING\"]', '[10,40]', 1, now(), ?::jsonb,"
                  + " ?::jsonb) RETURNING id")) {
        st.setLong(1, experiment);
        st.setString(2, name);
        st.setString(3, "dash-data-" + tag);
        st.setString(
            4,
            "{\"validationFraction\":0.2,\"testFraction\":0.2,\"trainExamples\":40,\"seed\":1,"
                + "\"maxSequenceLength\":0}");
        st.setString(5, PROBE_SWEEP);
        try (ResultSet rs = st.executeQuery()) {
          rs.next();
          id = rs.getLong(1);
        }
      }
      for (Map.Entry<Long, List<String>> e : runs.entrySet()) {
        try (PreparedStatement st =
            c.prepareStatement(
                "INSERT INTO comparison_run (comparison_id, run_id, strategy, training_examples,"
                    + " repeat_index) VALUES (?, ?, ?, ?, 0)")) {
          st.setLong(1, id);
          st.setLong(2, e.getKey());
          st.setString(3, e.getValue().get(0));
          st.setInt(4, Integer.parseInt(e.getValue().get(1)));
          st.executeUpdate();
        }
      }
      return id;
    }
  }

  private long run(
      long experiment,
      String name,
      Strategy strategy,
      long dataset,
      String tag,
      int epochs,
      double testAccuracy) {
    long id =
        store.createQueued(
            TrainingGrpcService.toSpec(
                    StartRunRequest.newBuilder()
                        .setExperimentId(experiment)
                        .setName(name)
                        .setDataset("dash-data-" + tag)
                        .setStrategy(strategy)
                        .setHyperParameters(HyperParameters.newBuilder().setEpochs(epochs))
                        .build())
                .withDefaults(),
            null,
            dataset,
            null,
            Map.of());
    store.claim(id);
    store.started(id, "cpu", "split-" + tag, 100, 1000, true, List.of("cat", "dog"));
    for (int e = 0; e < epochs; e++) {
      store.epoch(
          id,
          e,
          Map.of(
              "train_loss",
              1.0 / (e + 1),
              "val_loss",
              1.1 / (e + 1),
              "val_accuracy",
              0.5 + 0.12 * e,
              "val_macro_f1",
              0.45 + 0.12 * e));
    }
    store.tested(id, Map.of("test_accuracy", testAccuracy), List.of(8L, 2L, 1L, 9L), 20, null);
    store.finish(id, RunStatus.SUCCEEDED, null);
    return id;
  }

  private long dataset(String name) throws Exception {
    try (Connection c = dataSource.getConnection();
        PreparedStatement st =
            c.prepareStatement(
                "INSERT INTO dataset (name, kind, source, status, class_names, class_counts, "
                    + "example_count, example_shape, storage_path, created_at) VALUES (?, "
                    + "'IMAGE', 'UPLOAD', 'READY', '[\"cat\",\"dog\"]', '{\"cat\":1,\"dog\":1}',"
                    + " 2, '[1,2,2]', '/nowhere', now()) RETURNING id")) {
      st.setString(1, name);
      try (ResultSet rs = st.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
