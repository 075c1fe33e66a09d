package dev.graft.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** BERT-style defaults of text runs: the LINEAR schedule, the text budget, AdamW. */
class TextScheduleTest {

  @Test
  void linearWarmsUpOverTheFirstTenthThenDecaysToZero() {
    LearningRateSchedule s = new LearningRateSchedule("LINEAR", 10, 0, 5, 0.1);
    assertEquals(0.5, s.factor(0, 0.5), 1e-2); // half of the 1-epoch warm-up
    assertEquals(1.0, s.factor(1, 0), 1e-9);
    assertEquals(0.5, s.factor(5, 0.5), 1e-9);
    assertEquals(0.05 / 9, s.factor(9, 0.95), 1e-9);
    LearningRateSchedule given = new LearningRateSchedule("LINEAR", 4, 2, 5, 0.1);
    assertEquals(1.0, given.factor(2, 0), 1e-9);
    assertEquals(0.5, given.factor(3, 0), 1e-9);
  }

  @Test
  void textBudgetIsAFewEpochs() {
    assertEquals(10, Budget.textEpochs(100));
    assertEquals(10, Budget.textEpochs(200));
    assertEquals(4, Budget.textEpochs(500));
    assertEquals(3, Budget.textEpochs(5000));
  }

  @Test
  void aTextRunWithoutOptimizerOrScheduleGetsAdamWAndLinearDecay() {
    RunSpec requested =
        new RunSpec(
            1,
            "",
            "all-minilm-l6-v2",
            "",
            "texts",
            Strategy.FINE_TUNING,
            2,
            List.of(),
            new RunSpec.Head(List.of(), "", 0),
            new RunSpec.Hyper(
                "", 0, 0, 0, 0, "CONSTANT", 0, 0, 0, 16, 2, 0, null, false, false, false),
            new RunSpec.Split(0, 0, 0),
            0,
            "",
            "");
    RunSpec.Hyper h = ModelFactory.textDefaults(requested).withDefaults().validate().hyper();
    assertEquals("ADAMW", h.optimizer());
    assertEquals(0.01, h.weightDecay(), 0);
    assertEquals("LINEAR", h.schedule());
    assertEquals(128, h.maxSequenceLength());
    RunSpec.Hyper explicit =
        ModelFactory.textDefaults(
                requested.withHyper(
                    new RunSpec.Hyper(
                        "SGD", 0.1, 0, 0, 0, "COSINE", 1, 0, 0, 16, 2, 0, null, false, false, false,
                        64)))
            .withDefaults()
            .hyper();
    assertEquals("SGD", explicit.optimizer());
    assertEquals("COSINE", explicit.schedule());
    assertEquals(64, explicit.maxSequenceLength());
  }
}
