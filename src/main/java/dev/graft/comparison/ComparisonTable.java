package dev.graft.comparison;

import dev.graft.comparison.ComparisonView.Cell;
import dev.graft.comparison.ComparisonView.Verdict;
import dev.graft.experiments.RunStatus;
import dev.graft.training.RunView;
import dev.graft.training.Strategy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Turns a comparison's runs into its table, verdicts and recommendation. Pure: no I/O. */
final class ComparisonTable {

  private ComparisonTable() {}

  /** One run of the comparison, as stored now. */
  record Member(Strategy strategy, int trainingExamples, int repeat, RunView run) {}

  /** The computed parts of a {@link ComparisonView}. */
  record Result(
      List<Cell> cells,
      List<Verdict> verdicts,
      String recommendation,
      int done,
      int total,
      String splitHash) {}

  static Result compute(List<Strategy> strategies, List<Integer> sizes, List<Member> members) {
    List<Cell> cells = new ArrayList<>();
    for (int size : sizes) {
      for (Strategy s : strategies) {
        cells.add(cell(s, size, members));
      }
    }
    List<Verdict> verdicts = new ArrayList<>();
    for (int size : sizes) {
      verdicts.add(verdict(size, cells));
    }
    int done = (int) members.stream().filter(m -> m.run().status().isFinal()).count();
    String split =
        members.stream()
            .map(m -> m.run().splitHash())
            .filter(h -> !h.isEmpty())
            .findFirst()
            .orElse("");
    return new Result(
        cells,
        verdicts,
        recommendation(strategies, sizes, cells, verdicts, done, members.size()),
        done,
        members.size(),
        split);
  }

  private static Cell cell(Strategy strategy, int size, List<Member> members) {
    List<Long> ids = new ArrayList<>();
    List<RunView> ok = new ArrayList<>();
    for (Member m : members) {
      if (m.strategy() == strategy && m.trainingExamples() == size) {
        ids.add(m.run().id());
        if (m.run().status() == RunStatus.SUCCEEDED) {
          ok.add(m.run());
        }
      }
    }
    double[] acc = ok.stream().mapToDouble(r -> test(r, "test_accuracy")).toArray();
    double[] f1 = ok.stream().mapToDouble(r -> test(r, "test_macro_f1")).toArray();
    double[] seconds =
        ok.stream()
            .filter(r -> r.startedAt() != null && r.finishedAt() != null)
            .mapToDouble(r -> Duration.between(r.startedAt(), r.finishedAt()).toMillis() / 1e3)
            .toArray();
    double[] speed =
        ok.stream()
            .mapToDouble(r -> last(r, "examples_per_second"))
            .filter(v -> !Double.isNaN(v))
            .toArray();
    RunView first = ok.isEmpty() ? null : ok.get(0);
    return new Cell(
        strategy,
        size,
        ids,
        ok.size(),
        mean(acc),
        mean(f1),
        std(acc),
        mean(seconds),
        mean(speed),
        first == null ? 0 : first.trainableParameters(),
        first == null ? 0 : first.peakMemoryBytes());
  }

  private static Verdict verdict(int size, List<Cell> cells) {
    Cell best = null;
    Cell second = null;
    for (Cell c : cells) {
      if (c.trainingExamples() != size || c.runsSucceeded() == 0) {
        continue;
      }
      if (best == null || c.testAccuracy() > best.testAccuracy()) {
        second = best;
        best = c;
      } else if (second == null || c.testAccuracy() > second.testAccuracy()) {
        second = c;
      }
    }
    if (best == null) {
      return new Verdict(size, null, Double.NaN, null, 0, 0, false);
    }
    if (second == null) {
      return new Verdict(size, best.strategy(), best.testAccuracy(), null, 0, 0, false);
    }
    double margin = best.testAccuracy() - second.testAccuracy();
    boolean measured = best.runsSucceeded() > 1 && second.runsSucceeded() > 1;
    double noise = Math.max(best.testAccuracyStd(), second.testAccuracyStd());
    return new Verdict(
        size,
        best.strategy(),
        best.testAccuracy(),
        second.strategy(),
        margin,
        noise,
        measured && margin > 2 * noise);
  }

  /** A paragraph that states what the numbers say, size by size, then what to do. */
  static String recommendation(
      List<Strategy> strategies,
      List<Integer> sizes,
      List<Cell> cells,
      List<Verdict> verdicts,
      int done,
      int total) {
    StringBuilder out = new StringBuilder();
    if (done < total) {
      out.append(String.format(Locale.ROOT, "%d of %d runs have ended; ", done, total));
    }
    List<String> parts = new ArrayList<>();
    for (Verdict v : verdicts) {
      if (v.winner() == null) {
        continue;
      }
      String part =
          String.format(
              Locale.ROOT,
              "with %d training examples %s is best (test accuracy %.3f",
              v.trainingExamples(),
              name(v.winner()),
              v.winnerTestAccuracy());
      if (v.runnerUp() != null) {
        part +=
            String.format(
                Locale.ROOT,
                ", %+.3f over %s, %s)",
                v.margin(),
                name(v.runnerUp()),
                v.noise() > 0 || v.significant()
                    ? (v.significant()
                        ? String.format(
                            Locale.ROOT, "beyond twice the run-to-run noise of %.3f", v.noise())
                        : String.format(
                            Locale.ROOT, "within twice the run-to-run noise of %.3f", v.noise()))
                    : "noise not measured: ask for repeats >= 2");
      } else {
        part += ")";
      }
      parts.add(part);
    }
    if (parts.isEmpty()) {
      return out.append("no run has succeeded yet.").toString();
    }
    out.append(String.join("; ", parts)).append(". ");
    Verdict small = first(verdicts, true);
    Verdict large = first(verdicts, false);
    if (small != null && large != null && small != large && small.winner() != large.winner()) {
      out.append(
          String.format(
              Locale.ROOT,
              "The winner changes with the data: %s leads at %d examples, %s at %d. ",
              name(small.winner()),
              small.trainingExamples(),
              name(large.winner()),
              large.trainingExamples()));
    }
    if (large != null) {
      Cell winner = find(cells, large.winner(), large.trainingExamples());
      Cell transfer = find(cells, Strategy.TRANSFER_LEARNING, large.trainingExamples());
      String cost = "";
      if (transfer != null
          && winner != null
          && winner != transfer
          && transfer.runsSucceeded() > 0
          && transfer.trainingSeconds() > 0) {
        cost =
            String.format(
                Locale.ROOT,
                " at %.1f× the training time of transfer learning (%.1f s vs %.1f s) and %.1f×"
                    + " its trainable parameters",
                winner.trainingSeconds() / transfer.trainingSeconds(),
                winner.trainingSeconds(),
                transfer.trainingSeconds(),
                transfer.trainableParameters() == 0
                    ? Double.NaN
                    : (double) winner.trainableParameters() / transfer.trainableParameters());
      }
      String caveat = "";
      if (large.runnerUp() != null && !large.significant()) {
        caveat =
            large.noise() > 0
                ? String.format(
                    Locale.ROOT,
                    "; %s is within the measured noise of it, so prefer the cheaper of the two",
                    name(large.runnerUp()))
                : String.format(
                    Locale.ROOT,
                    "; its lead over %s is one run each: repeat (repeats >= 2) to tell whether it"
                        + " is real",
                    name(large.runnerUp()));
      }
      out.append(
          String.format(
              Locale.ROOT,
              "With %d examples, use %s%s%s.",
              large.trainingExamples(),
              name(large.winner()),
              cost,
              caveat));
    }
    return out.toString();
  }

  /**
   * What the linear probes say about where to cut: the best cut point against the base model's own
   * feature tensor, and the StartRun setting that grafts there.
   */
  static String probeSentence(ComparisonView.ProbeSweep sweep) {
    ComparisonView.Probe best = null;
    ComparisonView.Probe own = null;
    for (ComparisonView.Probe p : sweep.probes()) {
      if (p.name().equals(sweep.bestCutPoint())) {
        best = p;
      }
      if (p.featureTensor()) {
        own = p;
      }
    }
    if (best == null) {
      return "";
    }
    String head =
        String.format(
            Locale.ROOT,
            "Linear probes on the frozen backbone (%d training, %d validation examples, %d cut"
                + " points): ",
            sweep.trainExamples(),
            sweep.validationExamples(),
            sweep.probes().size());
    if (own == null || own == best) {
      return head
          + String.format(
              Locale.ROOT,
              "the base model's own feature tensor ('%s', %d features) is the best cut point"
                  + " (validation accuracy %.3f), so transfer learning needs no cut_point.",
              best.name(),
              best.featureSize(),
              best.valAccuracy());
    }
    return head
        + String.format(
            Locale.ROOT,
            "the best cut point is '%s' (%d features, validation accuracy %.3f, %+.3f over the"
                + " base model's feature tensor '%s' at %.3f): start transfer learning with"
                + " cut_point '%s'.",
            best.name(),
            best.featureSize(),
            best.valAccuracy(),
            best.valAccuracy() - own.valAccuracy(),
            own.name(),
            own.valAccuracy(),
            best.name());
  }

  private static Verdict first(List<Verdict> verdicts, boolean smallest) {
    Verdict out = null;
    for (Verdict v : verdicts) {
      if (v.winner() != null && (out == null || !smallest)) {
        out = v;
        if (smallest) {
          return out;
        }
      }
    }
    return out;
  }

  private static Cell find(List<Cell> cells, Strategy s, int size) {
    for (Cell c : cells) {
      if (c.strategy() == s && c.trainingExamples() == size) {
        return c;
      }
    }
    return null;
  }

  private static String name(Strategy s) {
    return s.name().toLowerCase(Locale.ROOT).replace('_', ' ');
  }

  private static double test(RunView r, String key) {
    Double v = r.testMetrics().get(key);
    return v == null ? Double.NaN : v;
  }

  private static double last(RunView r, String key) {
    double v = Double.NaN;
    int epoch = Integer.MIN_VALUE;
    for (RunView.EpochValue e : r.metrics()) {
      if (e.key().equals(key) && e.epoch() >= epoch) {
        epoch = e.epoch();
        v = e.value();
      }
    }
    return v;
  }

  private static double mean(double[] v) {
    if (v.length == 0) {
      return Double.NaN;
    }
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return s / v.length;
  }

  private static double std(double[] v) {
    if (v.length < 2) {
      return 0;
    }
    double m = mean(v);
    double s = 0;
    for (double x : v) {
      s += (x - m) * (x - m);
    }
    return Math.sqrt(s / (v.length - 1));
  }
}
