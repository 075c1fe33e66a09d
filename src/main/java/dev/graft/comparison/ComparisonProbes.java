package dev.graft.comparison;

import dev.graft.core.GraftException;
import dev.graft.core.RoleConfig;
import dev.graft.training.LayerProbes;
import dev.graft.training.RunSpec;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.persistence.LockModeType;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jboss.logging.Logger;

/**
 * Computes the probe sweep a comparison asked for, one comparison at a time on its own thread,
 * while the comparison's runs queue and train: {@link LayerProbes} on the comparison's split (its
 * validation and test examples, its largest training size, its seed), stored with the comparison.
 * The sweep is deterministic for that split, so one that a restart interrupted is simply computed
 * again at the next start of a control-plane process; the stored result is written only if none is
 * there yet (a second api replica computing it too changes nothing).
 */
@ApplicationScoped
public class ComparisonProbes {

  private static final Logger LOG = Logger.getLogger(ComparisonProbes.class);

  private final LayerProbes probes;
  private final ComparisonRepository comparisons;
  private final ExecutorService executor =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "graft-probe-sweep");
            t.setDaemon(true);
            return t;
          });

  ComparisonProbes(LayerProbes probes, ComparisonRepository comparisons) {
    this.probes = probes;
    this.comparisons = comparisons;
  }

  /** Recomputes the sweeps that a stop of the service left unfinished (control plane only). */
  void onStart(@Observes StartupEvent event, RoleConfig roles) {
    if (!roles.role().controls()) {
      return;
    }
    List<Long> pending =
        QuarkusTransaction.requiringNew()
            .call(
                () ->
                    comparisons
                        .find(
                            "probeRequest is not null and probeSweep is null and probeError is"
                                + " null")
                        .list()
                        .stream()
                        .map(c -> c.id)
                        .toList());
    for (long id : pending) {
      LOG.infof("Comparison %d: its probe sweep had not ended; computing it again", id);
      submit(id);
    }
  }

  /** Computes the sweep of comparison {@code id} in the background. */
  void submit(long id) {
    executor.execute(() -> compute(id));
  }

  private void compute(long id) {
    ComparisonRecord c =
        QuarkusTransaction.requiringNew().call(() -> comparisons.findByIdOptional(id).orElse(null));
    if (c == null || c.probeRequest == null || c.probeSweep != null || c.probeError != null) {
      return;
    }
    ComparisonRecord.ProbeRequest p = c.probeRequest;
    long start = System.nanoTime();
    ComparisonView.ProbeSweep sweep = null;
    String error = null;
    try {
      LayerProbes.Result result =
          probes.probe(
              new LayerProbes.Request(
                  c.baseModel,
                  c.dataset,
                  new RunSpec.Split(p.validationFraction(), p.testFraction(), p.trainExamples()),
                  p.seed(),
                  List.of(),
                  p.maxSequenceLength()));
      sweep = ComparisonView.ProbeSweep.of(result, (System.nanoTime() - start) / 1e9);
      LOG.infof(
          "Comparison %d: probe sweep of %d cut points in %.1f s, best '%s'",
          id, sweep.probes().size(), sweep.totalSeconds(), sweep.bestCutPoint());
    } catch (GraftException e) {
      error = e.getMessage();
    } catch (RuntimeException | OutOfMemoryError e) {
      LOG.errorf(e, "Comparison %d: the probe sweep failed", id);
      error = "internal error (" + e.getClass().getSimpleName() + "): " + e.getMessage();
    }
    store(id, sweep, error);
  }

  private void store(long id, ComparisonView.ProbeSweep sweep, String error) {
    QuarkusTransaction.requiringNew()
        .run(
            () -> {
              ComparisonRecord c = comparisons.findById(id, LockModeType.PESSIMISTIC_WRITE);
              if (c == null || c.probeSweep != null || c.probeError != null) {
                return; // deleted, computed by another process, or cancelled meanwhile
              }
              if (sweep != null) {
                c.probeSweep = sweep;
              } else {
                c.probeError = "the probe sweep failed: " + error;
              }
            });
  }

  @PreDestroy
  void stop() {
    executor.shutdownNow();
  }
}
