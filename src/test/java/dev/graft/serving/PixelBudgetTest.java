package dev.graft.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.graft.core.GraftException;
import org.junit.jupiter.api.Test;

class PixelBudgetTest {

  @Test
  void requestsDecodingAtOnceShareTheBudgetAndGiveItBack() {
    PixelBudget budget = new PixelBudget(100, 250);
    PixelBudget.Lease a = budget.acquire(100);
    PixelBudget.Lease b = budget.acquire(100);
    GraftException.ResourceExhausted refused =
        assertThrows(GraftException.ResourceExhausted.class, () -> budget.acquire(100));
    assertEquals(
        "images of 200 pixels are being decoded for other requests; this request's 100 would"
            + " exceed graft.serving.max-decoding-pixels (250): retry shortly",
        refused.getMessage());
    a.close();
    try (PixelBudget.Lease c = budget.acquire(100)) {
      assertEquals(200, budget.decoding());
    }
    b.close();
    assertEquals(0, budget.decoding());
  }

  @Test
  void oneRequestAboveTheWholeBudgetIsRefusedEvenWhenIdle() {
    PixelBudget budget = new PixelBudget(100, 250);
    assertThrows(GraftException.ResourceExhausted.class, () -> budget.acquire(251));
    assertEquals(0, budget.decoding());
  }

  @Test
  void anImageAboveThePerImageLimitIsRefusedWithItsSize() {
    PixelBudget budget = new PixelBudget(100, 250);
    budget.checkImage("input 0", 10, 10);
    GraftException.ResourceExhausted e =
        assertThrows(
            GraftException.ResourceExhausted.class, () -> budget.checkImage("input 3", 11, 10));
    assertEquals(
        "input 3 is 11x10 pixels (height x width, 110 pixels); an image may have at most 100"
            + " (graft.serving.max-image-pixels)",
        e.getMessage());
  }
}
