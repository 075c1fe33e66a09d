package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.graft.core.GraftException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pure parts of training: device choice, schedules, metrics, configuration checks. */
class TrainingUnitsTest {

  @Test
  void autoPicksTheGpuOnlyWhenThereIsOne() {
    assertEquals(Device.cpu(), DeviceSelector.select("AUTO", 0));
    assertEquals(Device.gpu(0), DeviceSelector.select("AUTO", 2));
    assertEquals(Device.cpu(), DeviceSelector.select("CPU", 2));
    assertEquals(Device.gpu(0), DeviceSelector.select("GPU", 1));
    var e =
        assertThrows(
            GraftException.FailedPrecondition.class, () -> DeviceSelector.select("GPU", 0));
    assertTrue(e.getMessage().contains("no GPU is available"));
  }

  @Test
  void schedulesFollowTheirCurves() {
    var constant = new LearningRateSchedule("CONSTANT", 10, 0, 5, 0.1);
    assertEquals(1.0, constant.factor(7, 0.5), 1e-12);
    var step = new LearningRateSchedule("STEP", 10, 0, 3, 0.1);
    assertEquals(1.0, step.factor(2, 0.9), 1e-12);
    assertEquals(0.1, step.factor(3, 0.0), 1e-12);
    assertEquals(0.01, step.factor(6, 0.0), 1e-12);
    var cosine = new LearningRateSchedule("COSINE", 10, 0, 5, 0.1);
    assertEquals(1.0, cosine.factor(0, 0), 1e-12);
    assertEquals(0.5, cosine.factor(5, 0), 1e-12);
    assertEquals(0.0, cosine.factor(10, 0), 1e-12);
    var warm = new LearningRateSchedule("CONSTANT", 10, 2, 5, 0.1);
    assertTrue(warm.factor(0, 0) < 0.01);
    assertEquals(0.5, warm.factor(1, 0), 1e-3);
    assertEquals(1.0, warm.factor(2, 0), 1e-12);
  }

  @Test
  void evaluationComputesAccuracyMacroF1AndConfusion() {
    Evaluation e = new Evaluation(3);
    e.add(3.0, new int[] {0, 0, 1, 2}, new int[] {0, 1, 1, 2});
    assertEquals(0.75, e.accuracy(), 1e-12);
    assertEquals(0.75, e.loss(), 1e-12);
    // class 0: tp1 actual2 pred1 -> f1 2/3; class 1: tp1 actual1 pred2 -> 2/3; class 2: 1
    assertEquals((2.0 / 3 + 2.0 / 3 + 1) / 3, e.macroF1(), 1e-12);
    assertEquals(List.of(1L, 1L, 0L, 0L, 1L, 0L, 0L, 0L, 1L), toList(e.confusion()));
  }

  private static List<Long> toList(long[] a) {
    return java.util.Arrays.stream(a).boxed().toList();
  }

  static RunSpec spec(Strategy strategy) {
    return new RunSpec(
        1,
        "",
        "base",
        "",
        "digits",
        strategy,
        0,
        List.of(),
        new RunSpec.Head(List.of(), "", 0),
        new RunSpec.Hyper("", 0, 0, 0, 0, "", 0, 0, 0, 0, 0, 0, null, false, false, false),
        new RunSpec.Split(0, 0, 0),
        0,
        "",
        "");
  }

  @Test
  void defaultsFillEveryUnsetValueAndLeaveTheBudgetToTheRun() {
    RunSpec s = spec(Strategy.GRADUAL).withDefaults().validate();
    assertEquals("gradual", s.name());
    assertEquals("ADAM", s.hyper().optimizer());
    assertEquals(0.1, s.hyper().backboneLrMultiplier());
    assertEquals(32, s.hyper().batchSize());
    assertEquals(42, s.seed());
    assertEquals("AUTO", s.device());
    assertEquals(0.1, s.split().validationFraction());
    // epochs 0: the budget, the rate (range test) and the patience are chosen when the run starts.
    assertTrue(s.hyper().automatic());
    assertEquals(0, s.hyper().epochs());
    assertEquals(0, s.hyper().learningRate());
    assertEquals(0, s.hyper().headEpochs());
    assertEquals(
        new RunSpec.EarlyStop(true, "val_accuracy", 0, 0, true), s.hyper().earlyStopping());
  }

  @Test
  void anExplicitBudgetKeepsTheFixedDefaults() {
    RunSpec d = spec(Strategy.GRADUAL);
    RunSpec.Hyper h = d.hyper().resolved(4, 0, "", 0, 0, null);
    RunSpec s = d.withHyper(h).withDefaults().validate();
    assertEquals(4, s.hyper().epochs());
    assertEquals(0.001, s.hyper().learningRate());
    assertEquals(1, s.hyper().headEpochs());
    assertEquals(new RunSpec.EarlyStop(false, "val_loss", 3, 0, false), s.hyper().earlyStopping());
    // Pre-training keeps its fixed 5 epochs.
    assertEquals(5, spec(Strategy.PRETRAINING).withDefaults().hyper().epochs());
  }

  @Test
  void theBudgetGivesSmallDataHundredsOfSteps() {
    assertEquals(200, Budget.epochs(50, 32, false));
    assertEquals(400, 200L * Budget.stepsPerEpoch(50, 32));
    assertEquals(143, Budget.epochs(200, 32, false));
    assertEquals(32, Budget.epochs(1000, 32, false));
    assertEquals(10, Budget.epochs(50_000, 32, false));
    assertEquals(1000, Budget.epochs(50, 32, true));
    assertEquals(94, Budget.epochs(1000, 32, true));
    assertEquals(20, Budget.epochs(100_000, 32, true));
    assertEquals(20, Budget.patience(200));
    assertEquals(5, Budget.patience(32));
    assertEquals(10, Budget.warmupEpochs(200));
    assertEquals(2, Budget.warmupEpochs(32));
    assertEquals(0, Budget.warmupEpochs(1));
    RunSpec.EarlyStop automatic = new RunSpec.EarlyStop(true, "val_accuracy", 0, 0, true);
    String reason = Budget.reason(50, 32, false, automatic);
    assertTrue(reason.contains("200 epochs"), reason);
    assertTrue(
        reason.endsWith(
            "early stopping on val_accuracy (ties: lower val_loss) (patience 20) with the best"
                + " epoch restored"),
        reason);
    assertTrue(
        Budget.reason(50, 32, false, new RunSpec.EarlyStop(false, "val_loss", 3, 0, false))
            .endsWith("early stopping off"));
    assertTrue(
        Budget.reason(50, 32, false, new RunSpec.EarlyStop(true, "val_loss", 4, 0, false))
            .endsWith("early stopping on val_loss (patience 4)"));
  }

  @Test
  void accuracyTiesAreBrokenByTheLowerValidationLoss() {
    RunSpec.EarlyStop accuracy = new RunSpec.EarlyStop(true, "val_accuracy", 5, 0, true);
    Checkpoint.State best = new Checkpoint.State(3, 0.80, 3, 0, false, 0.50);
    assertTrue(TrainingLoop.improved(accuracy, 0.81, 0.90, best), "higher accuracy, worse loss");
    assertTrue(TrainingLoop.improved(accuracy, 0.80, 0.40, best), "same accuracy, lower loss");
    assertFalse(TrainingLoop.improved(accuracy, 0.80, 0.60, best), "same accuracy, higher loss");
    assertFalse(TrainingLoop.improved(accuracy, 0.79, 0.10, best), "lower accuracy");
    RunSpec.EarlyStop delta = new RunSpec.EarlyStop(true, "val_accuracy", 5, 0.02, true);
    assertFalse(TrainingLoop.improved(delta, 0.81, 0.90, best), "within min_delta");
    // A checkpoint written before the tie-break existed reads bestLoss 0: ties never count.
    Checkpoint.State old = new Checkpoint.State(3, 0.80, 3, 0, false, 0);
    assertFalse(TrainingLoop.improved(accuracy, 0.80, 0.40, old));
    RunSpec.EarlyStop loss = new RunSpec.EarlyStop(true, "val_loss", 5, 0, true);
    Checkpoint.State lowest = new Checkpoint.State(3, 0.50, 3, 0, false, 0.50);
    assertTrue(TrainingLoop.improved(loss, 0.49, 0.49, lowest));
    assertFalse(TrainingLoop.improved(loss, 0.50, 0.50, lowest));
  }

  @Test
  void outOfRangeValuesAreRefusedWithTheirName() {
    RunSpec base = spec(Strategy.FINE_TUNING).withDefaults();
    RunSpec.Hyper h = base.hyper();
    RunSpec badLr =
        new RunSpec(
            1,
            "x",
            "base",
            "",
            "digits",
            Strategy.FINE_TUNING,
            0,
            List.of(),
            base.head(),
            new RunSpec.Hyper(
                "ADAM",
                20,
                0.1,
                0,
                0,
                "CONSTANT",
                0,
                5,
                0.1,
                32,
                5,
                0,
                h.earlyStopping(),
                false,
                false,
                false),
            base.split(),
            42,
            "AUTO",
            "");
    var e = assertThrows(GraftException.InvalidArgument.class, badLr::validate);
    assertTrue(e.getMessage().startsWith("learning_rate must be in (0, 10]"), e.getMessage());

    RunSpec noStrategy = spec(null);
    assertThrows(GraftException.InvalidArgument.class, () -> noStrategy.withDefaults());
  }
}
