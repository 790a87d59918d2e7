package io.millrace.examples;

import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.RunListener;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * Pattern 6: semaphore-bounded concurrency, at most {@code n} calls at once.
 *
 * <p><b>Go original.</b> A weighted semaphore ({@code golang.org/x/sync/semaphore}) sized to the
 * limit: for each input, {@code sem.Acquire(ctx, 1)}, then {@code go func() { defer sem.Release(1);
 * ... }()}; at the end, {@code sem.Acquire(ctx, limit)} waits for the last ones. Results arrive in
 * completion order unless the program reorders them, and the acquire, the release, the final wait
 * and the context checks are all hand-written (get the order wrong, start the goroutine before
 * acquiring, and there is one goroutine per queued item).
 *
 * <p><b>Millrace.</b> {@code mapConcurrent(n, fn)} is that pattern built in: at most {@code n}
 * worker virtual threads, started only as calls in flight grow, each taking the next item when its
 * call returns, so at most {@code n} calls run and at most {@code n} call threads exist; results
 * come out in input order ({@code mapConcurrentUnordered} emits them as they complete). The example
 * measures the most calls in flight and shows the wall time can't beat {@code ceil(items / n) ×
 * work}.
 */
public final class BoundedConcurrency {

  /** Items to process by default. */
  static final int ITEMS = 12;

  /** The default limit. */
  static final int LIMIT = 3;

  /** How long each call takes by default. */
  static final Duration WORK = Duration.ofMillis(100);

  private BoundedConcurrency() {}

  /**
   * What the example observed.
   *
   * @param results the results, in the order the sink received them
   * @param maxInFlight the most calls that were running at once
   * @param callThreads how many distinct threads ran calls
   * @param elapsed the run's wall time
   * @param floor the shortest the run can take with the limit: {@code ceil(items / limit) × work}
   */
  public record Outcome(
      List<Integer> results, int maxInFlight, int callThreads, Duration elapsed, Duration floor) {}

  /**
   * Runs the example with its defaults.
   *
   * @param out receives each line, on the caller's thread
   * @return what it observed
   */
  public static Outcome run(Consumer<String> out) {
    return run(out, ITEMS, LIMIT, WORK, () -> {}, new RunListener() {});
  }

  /**
   * Runs the example.
   *
   * @param out receives each line
   * @param items how many items
   * @param limit the most calls at once
   * @param work how long each call takes
   * @param probe called inside each call, for tests
   * @param listener told of the run's start and end, for tests
   * @return what it observed
   */
  static Outcome run(
      Consumer<String> out,
      int items,
      int limit,
      Duration work,
      Runnable probe,
      RunListener listener) {
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger maxInFlight = new AtomicInteger();
    Set<Thread> callThreads = ConcurrentHashMap.newKeySet();

    long t0 = System.nanoTime();
    List<Integer> results =
        Pipeline.from(IntStream.rangeClosed(1, items).boxed().toList())
            .mapConcurrent(
                limit,
                i -> {
                  maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                  callThreads.add(Thread.currentThread());
                  try {
                    probe.run();
                    Thread.sleep(work); // an I/O call, say
                    return i * i;
                  } finally {
                    inFlight.decrementAndGet();
                  }
                })
            .named("square-slowly")
            .withListener(listener)
            .toList();
    Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
    Duration floor = work.multipliedBy((items + limit - 1) / limit);

    out.accept(
        items + " items, mapConcurrent(" + limit + ", ...), " + work.toMillis() + " ms each");
    out.accept("results, in input order: " + results);
    out.accept("most calls in flight at once: " + maxInFlight.get() + " (limit " + limit + ")");
    out.accept(
        "calls ran on "
            + callThreads.size()
            + " worker virtual threads (at most "
            + limit
            + ", each takes the next item)");
    out.accept(
        "took "
            + (elapsed.compareTo(floor) >= 0 ? "at least " : "LESS than ")
            + floor.toMillis()
            + " ms, the floor the limit sets (ceil("
            + items
            + " / "
            + limit
            + ") x "
            + work.toMillis()
            + " ms)");
    return new Outcome(results, maxInFlight.get(), callThreads.size(), elapsed, floor);
  }

  /**
   * Runs the example, printing to standard output.
   *
   * @param args ignored
   */
  public static void main(String[] args) {
    run(System.out::println);
  }
}
