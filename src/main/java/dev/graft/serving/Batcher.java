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
 * <p>What a request carries is the type parameter: float rows ({@link #floats}) or a text model's
 * texts and token tensors ({@link TokenInput}); the {@link BatchRunner} turns a batch of them into
 * one run (concatenating rows, tokenising texts together) and says which may share a run.
 *
 * <p>These threads are the only ones that ever run the model, so the model's session is owned by
 * them: after {@link #close()} the queue drains, then {@code onExit} (which closes the session)
 * runs on the last runner to stop. Requests already queued are answered; later ones are refused
 * with {@code null} from {@link #submit} so the caller can re-resolve the model.
 */
public final class Batcher<I> {

  private static final Logger LOG = Logger.getLogger(Batcher.class);
  private static final long IDLE_POLL_MS = 100;

  /** Runs one batch: {@code input} holds {@code rows} examples; returns their output rows. */
  @FunctionalInterface
  public interface Runner {
    RunResult run(float[] input, int rows) throws Exception;
  }

  /**
   * Runs one batch of requests ({@code rows} examples in all) as one run; returns the output rows
   * of all, in request order.
   */
  @FunctionalInterface
  public interface BatchRunner<I> {
    RunResult run(List<I> inputs, int rows) throws Exception;

    /**
     * Whether {@code next} may run in one batch with {@code first} (else it starts the next batch).
     */
    default boolean joins(I first, I next) {
      return true;
    }
  }

  /** Output rows of a run, flattened, and how long its three phases took. */
  public record RunResult(float[] output, long inputNanos, long inferNanos, long outputNanos) {}

  private record Pending<I>(I data, int rows, long enqueuedNanos, CompletableFuture<float[]> out) {}

  private final String name;
  private final BatchRunner<I> runner;
  private final BatchSettings settings;
  private final BatchListener listener;
  private final Runnable onExit;
  private final Executor completions;
  private final ArrayBlockingQueue<Pending<I>> queue;
  private final List<Thread> workers = new ArrayList<>();
  private final AtomicInteger running;
  private final Object lock = new Object();
  private boolean closed;

  /** A batcher of float rows: the requests' rows are concatenated into one input. */
  public static Batcher<float[]> floats(
      String name, Runner runner, BatchSettings settings, BatchListener listener, Runnable onExit) {
    return floats(name, runner, settings, listener, onExit, Runnable::run);
  }

  /** As {@link #floats(String, Runner, BatchSettings, BatchListener, Runnable)}. */
  public static Batcher<float[]> floats(
      String name,
      Runner runner,
      BatchSettings settings,
      BatchListener listener,
      Runnable onExit,
      Executor completions) {
    return new Batcher<>(name, concatenating(runner), settings, listener, onExit, completions);
  }

  private static BatchRunner<float[]> concatenating(Runner runner) {
    return (inputs, rows) -> {
      if (inputs.size() == 1) {
        return runner.run(inputs.get(0), rows);
      }
      int length = 0;
      for (float[] p : inputs) {
        length += p.length;
      }
      float[] input = new float[length];
      int at = 0;
      for (float[] p : inputs) {
        System.arraycopy(p, 0, input, at, p.length);
        at += p.length;
      }
      return runner.run(input, rows);
    };
  }

  /**
   * {@code completions} runs the callers' continuations (post-processing, writing responses), so
   * that this model's thread only runs the model.
   */
  public Batcher(
      String name,
      BatchRunner<I> runner,
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
  public CompletableFuture<float[]> submit(I data, int rows) {
    Pending<I> p = new Pending<>(data, rows, System.nanoTime(), new CompletableFuture<>());
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
    Pending<I> carry = null;
    long delay = settings.maxQueueDelay().toNanos();
    try {
      while (true) {
        Pending<I> first = carry != null ? carry : queue.poll(IDLE_POLL_MS, TimeUnit.MILLISECONDS);
        carry = null;
        if (first == null) {
          synchronized (lock) {
            if (closed && queue.isEmpty()) {
              return;
            }
          }
          continue;
        }
        List<Pending<I>> batch = new ArrayList<>();
        batch.add(first);
        int rows = first.rows();
        long deadline = first.enqueuedNanos() + delay;
        while (rows < settings.maxBatchSize()) {
          Pending<I> next = queue.poll();
          if (next == null && delay > 0) {
            long wait = deadline - System.nanoTime();
            if (wait > 0) {
              next = queue.poll(wait, TimeUnit.NANOSECONDS);
            }
          }
          if (next == null) {
            break;
          }
          if (rows + next.rows() > settings.maxBatchSize()
              || !runner.joins(first.data(), next.data())) {
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

  private void execute(List<Pending<I>> batch, int rows) {
    long start = System.nanoTime();
    long[] queueNanos = new long[batch.size()];
    List<I> inputs = new ArrayList<>(batch.size());
    for (int i = 0; i < queueNanos.length; i++) {
      queueNanos[i] = start - batch.get(i).enqueuedNanos();
      inputs.add(batch.get(i).data());
    }
    RunResult result;
    try {
      result = runner.run(inputs, rows);
    } catch (Exception | Error e) {
      listener.onBatchFailure(batch.size(), System.nanoTime() - start);
      for (Pending<I> p : batch) {
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
  private static <I> void complete(List<Pending<I>> batch, int rows, float[] out) {
    int outRow = out.length / rows;
    int at = 0;
    for (Pending<I> p : batch) {
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

  private void failAll(Pending<I> carry, Exception e) {
    if (carry != null) {
      carry.out().completeExceptionally(e);
    }
    Pending<I> p;
    while ((p = queue.poll()) != null) {
      p.out().completeExceptionally(e);
    }
  }
}
