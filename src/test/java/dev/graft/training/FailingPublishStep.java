package dev.graft.training;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Alternative;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The publish-step observer of the test application (an alternative selected for every Quarkus
 * test, inert until armed): {@link PublishAtomicityTest} makes it fail the next {@code n}
 * publications at the chosen step, as a crash or a database error there would. Not a test profile:
 * a profile restarts the application in a new class loader, where libtorch cannot load again.
 */
@Alternative
@jakarta.annotation.Priority(1)
@ApplicationScoped
public class FailingPublishStep extends PublishStep.Observer {

  private volatile PublishStep failAt;
  private final AtomicInteger remaining = new AtomicInteger();

  void failNext(PublishStep step, int times) {
    failAt = step;
    remaining.set(times);
  }

  @Override
  public void passed(PublishStep step, long runId) {
    super.passed(step, runId);
    if (step == failAt && remaining.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      throw new IllegalStateException("injected failure after publish step " + step);
    }
  }
}
