package dev.graft.serving;

import dev.graft.core.GraftException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Dynamic batching for one model version: requests of all callers wait in a bounded queue; each of
 * {@code runners} dedicated threads takes the first, adds whatever else is queued (waiting at most
 * {@code maxQueueDelay} after the first arrived) up to {@code maxBatchSize} examples, makes one run
 * of all of them, and splits the output rows back to their callers. With several runners one batch
 * forms while another computes; answers may then complete out of arrival order (streams put them
 * back in order).
 *
 * <p>Answers are handed back on the runner's thread when no request waits (the caller's
 * continuation is cheaper than a thread hop), else in one task per batch on the {@code completions}
 * executor, so that the next batch starts at once.
 *
 * <p>These threads are the only ones that ever run the model, so the model's session is owned by
 * them: after {@link #close()} the queue drains, then {@code onExit} (which closes the session)
 * runs on the last runner to stop. Requests already queued are answered; later ones are refused
 * with {@code null} from {@link #submit} so the caller can re-resolve the model.
 */
public final class Batcher {

  private static final Logger LOG = Logger.getLogger(Batcher.class);
  private static final long IDLE_POLL_MS = 100;

  /** Runs one batch: {@code input} holds {@code rows} examples; returns their output rows. */
  @FunctionalInterface
  public interface Runner {
    RunResult run(float[] input, int rows) throws Exception;
  }

  /** Output rows of a run, flattened, and how long its three phases took. */
  public record RunResult(float[] output, long inputNanos, long inferNanos, long outputNanos) {}

  private record Pending(
      float[] data, int rows, long enqueuedNanos, CompletableFuture<float[]> out) {}

  private final String name;
  private final Runner runner;
  private final BatchSettings settings;
  private final BatchListener listener;
  private final Runnable onExit;
  private final Executor completions;
  private final ArrayBlockingQueue<Pending> queue;
  private final List<Thread> workers = new ArrayList<>();
  private final AtomicInteger running;
  private final Object lock = new Object();
  private boolean closed;

  public Batcher(
      String name, Runner runner, BatchSettings settings, BatchListener listener, Runnable onExit) {
    this(name, runner, settings, listener, onExit, Runnable::run);
  }

  /**
   * {@code completions} runs the callers' continuations (post-processing, writing responses), so
   * that this model's thread only runs the model.
   */
  public Batcher(
      String name,
      Runner runner,
      BatchSettings settings,
      BatchListener listener,
      Runnable onExit,
      Executor completions) {
    this.name = name;
    this.completions = completions;
    this.runner = runner;
    this.settings = settings;
    this.listener = listener;
    this.onExit = onExit;
    this.queue = new ArrayBlockingQueue<>(settings.queueCapacity());
    this.running = new AtomicInteger(settings.runners());
    for (int i = 0; i < settings.runners(); i++) {
      Thread worker = new Thread(this::loop, "graft-batcher-" + name + "-" + i);
      worker.setDaemon(true);
      workers.add(worker);
    }
    workers.forEach(Thread::start);
  }

  public BatchSettings settings() {
    return settings;
  }

  /**
   * Queues {@code rows} examples; the future completes with their output rows (flattened) or the
   * run's failure. Returns null once closed. Throws RESOURCE_EXHAUSTED when the queue is full.
   */
  public CompletableFuture<float[]> submit(float[] data, int rows) {
    Pending p = new Pending(data, rows, System.nanoTime(), new CompletableFuture<>());
    synchronized (lock) {
      if (closed) {
        return null;
      }
      if (!queue.offer(p)) {
        throw new GraftException.ResourceExhausted(
            name
                + " has "
                + settings.queueCapacity()
                + " requests waiting already (graft.serving.batching.queue-capacity); retry"
                + " later or slow down");
      }
    }
    return p.out();
  }

  /** Requests waiting now. */
  public int queued() {
    return queue.size();
  }

  /** Stops taking requests; queued ones are still answered, then the model is released. */
  public void close() {
    synchronized (lock) {
      closed = true;
    }
  }

  public boolean isClosed() {
    synchronized (lock) {
      return closed;
    }
  }

  /** Whether every runner has stopped (and the model is released). */
  public boolean exited() {
    return workers.stream().noneMatch(Thread::isAlive);
  }

  /** Waits for the runners to answer the queued requests and release the model. */
  public boolean awaitExit(long millis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    for (Thread worker : workers) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left > 0) {
        worker.join(left);
      }
    }
    return exited();
  }

  private void loop() {
    Pending carry = null;
    long delay = settings.maxQueueDelay().toNanos();
    try {
      while (true) {
        Pending first = carry != null ? carry : queue.poll(IDLE_POLL_MS, TimeUnit.MILLISECONDS);
        carry = null;
        if (first == null) {
          synchronized (lock) {
            if (closed && queue.isEmpty()) {
              return;
            }
          }
          continue;
        }
        List<Pending> batch = new ArrayList<>();
        batch.add(first);
        int rows = first.rows();
        long deadline = first.enqueuedNanos() + delay;
        while (rows < settings.maxBatchSize()) {
          Pending next = queue.poll();
          if (next == null && delay > 0) {
            long wait = deadline - System.nanoTime();
            if (wait > 0) {
              next = queue.poll(wait, TimeUnit.NANOSECONDS);
            }
          }
          if (next == null) {
            break;
          }
          if (rows + next.rows() > settings.maxBatchSize()) {
            carry = next; // starts the next batch, keeping arrival order
            break;
          }
          batch.add(next);
          rows += next.rows();
        }
        execute(batch, rows);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failAll(carry, new IllegalStateException(name + " stopped"));
    } finally {
      if (running.decrementAndGet() == 0) {
        onExit.run();
      }
    }
  }

  private void execute(List<Pending> batch, int rows) {
    long start = System.nanoTime();
    long[] queueNanos = new long[batch.size()];
    for (int i = 0; i < queueNanos.length; i++) {
      queueNanos[i] = start - batch.get(i).enqueuedNanos();
    }
    float[] input;
    if (batch.size() == 1) {
      input = batch.get(0).data();
    } else {
      int rowSize = batch.get(0).data().length / batch.get(0).rows();
      input = new float[rows * rowSize];
      int at = 0;
      for (Pending p : batch) {
        System.arraycopy(p.data(), 0, input, at, p.data().length);
        at += p.data().length;
      }
    }
    RunResult result;
    try {
      result = runner.run(input, rows);
    } catch (Exception | Error e) {
      listener.onBatchFailure(batch.size(), System.nanoTime() - start);
      for (Pending p : batch) {
        p.out().completeExceptionally(e);
      }
      if (e instanceof Error error && !(e instanceof AssertionError)) {
        throw error;
      }
      return;
    }
    listener.onBatch(
        rows, queueNanos, result.inputNanos(), result.inferNanos(), result.outputNanos());
    float[] out = result.output();
    Runnable complete = () -> complete(batch, rows, out);
    if (queue.isEmpty()) {
      // Nobody waits for the model: answering here costs no one anything and saves a thread hop.
      complete.run();
      return;
    }
    try {
      completions.execute(complete);
    } catch (RuntimeException e) {
      LOG.warn("completing requests on their executor failed; completing them here", e);
      complete.run();
    }
  }

  /** Splits the output rows back to their requests (one executor task for the whole batch). */
  private static void complete(List<Pending> batch, int rows, float[] out) {
    int outRow = out.length / rows;
    int at = 0;
    for (Pending p : batch) {
      float[] mine = batch.size() == 1 ? out : Arrays.copyOfRange(out, at, at + p.rows() * outRow);
      at += p.rows() * outRow;
      try {
        p.out().complete(mine);
      } catch (RuntimeException e) {
        // a continuation of one caller failed: the others still get their answers
        LOG.warn("a caller's continuation failed", e);
      }
    }
  }

  private void failAll(Pending carry, Exception e) {
    if (carry != null) {
      carry.out().completeExceptionally(e);
    }
    Pending p;
    while ((p = queue.poll()) != null) {
      p.out().completeExceptionally(e);
    }
  }
}
