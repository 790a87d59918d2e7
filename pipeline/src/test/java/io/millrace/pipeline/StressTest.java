package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Random pipelines, ended at random moments by cancel, caller interrupt, deadline or a failure.
 * Every iteration is bounded in time (with a dump of run threads on timeout) and checks: nothing
 * outlives the run, the outcome matches what happened, and a run that completes loses and
 * duplicates nothing. Scale with {@code -Dmillrace.stress.iterations=N}.
 */
@Timeout(600)
@ExtendWith(NoLeakedRunThreads.class)
class StressTest {

  enum Action {
    COMPLETE,
    CANCEL,
    INTERRUPT_CALLER,
    DEADLINE,
    FAIL
  }

  private static final AtomicReference<String> LAST = new AtomicReference<>();

  @Test
  void randomPipelinesEndedAtRandomMomentsLeakNothingAndLoseNothing() throws Exception {
    StressConfig.loop(Action.class, "action", 20, LAST::get, StressTest::runOne);
  }

  private static void runOne(SplittableRandom rnd, Action action) throws Exception {
    int n = 1 + rnd.nextInt(3000);
    AtomicInteger inFlight = new AtomicInteger();
    int failAt = action == Action.FAIL ? rnd.nextInt(n) : -1;
    boolean ordered = true;
    // what a completed run must emit: `expected` in order (ordered), or as a set (unordered and
    // exact), or any `expectedSize` distinct elements of it (a take after an unordered stage)
    List<Integer> expected = IntStream.range(0, n).boxed().toList();
    boolean exact = true;
    int expectedSize = n;
    boolean cuts = action != Action.FAIL; // a take, drop or zip may end a FAIL run before failAt
    Pipeline<Integer> p = Pipeline.from(IntStream.range(0, n).boxed().toList());
    if (rnd.nextBoolean()) {
      p = p.buffer(1 + rnd.nextInt(64));
    }
    int stages = 1 + rnd.nextInt(4);
    for (int s = 0; s < stages; s++) {
      int kind = rnd.nextInt(12);
      boolean sleepy = rnd.nextInt(4) == 0;
      ThrowingFunction<Integer, Integer> work =
          i -> {
            inFlight.incrementAndGet();
            try {
              if (i == failAt) {
                throw new IllegalStateException("planned failure at " + i);
              }
              if (sleepy && (i & 31) == 0) {
                Thread.sleep(1);
              }
              return i;
            } finally {
              inFlight.decrementAndGet();
            }
          };
      switch (kind) {
        case 0 -> p = p.map(work);
        case 1 -> p = p.mapConcurrent(1 + rnd.nextInt(16), work);
        case 2 -> {
          p = p.mapConcurrentUnordered(1 + rnd.nextInt(16), work);
          ordered = false;
        }
        case 3 -> p = p.filter(i -> work.apply(i) >= 0);
        case 4 ->
            p =
                p.batch(1 + rnd.nextInt(50), Duration.ofMillis(1 + rnd.nextInt(5)))
                    .flatMap(b -> b)
                    .map(work);
        case 5 -> p = p.flatMap(i -> List.of(work.apply(i)));
        case 6, 7 -> { // take or drop
          int k = cuts ? rnd.nextInt(expectedSize + 2) : expectedSize + 1 + rnd.nextInt(3);
          boolean take = kind == 6 || !cuts;
          p = take ? p.take(k) : p.drop(k);
          int size = take ? Math.min(k, expectedSize) : Math.max(0, expectedSize - k);
          if (ordered && exact) {
            expected =
                take
                    ? expected.subList(0, size)
                    : expected.subList(expected.size() - size, expected.size());
          } else if (size < expectedSize) {
            exact = false;
          }
          expectedSize = size;
        }
        case 8 -> {
          int keys = 1 + rnd.nextInt(20);
          p = p.mapConcurrentPartitioned(1 + rnd.nextInt(16), i -> i % keys, work);
          ordered = false;
        }
        case 9 -> p = p.alsoTo(work::apply);
        case 10 -> { // zip with a counter, which may be the shorter side
          int m = cuts ? rnd.nextInt(expectedSize + 2) : expectedSize + 1 + rnd.nextInt(3);
          p = p.zip(Pipeline.from(IntStream.range(0, m).boxed().toList()), (a, b) -> a);
          int size = Math.min(m, expectedSize);
          if (ordered && exact) {
            expected = expected.subList(0, size);
          } else if (size < expectedSize) {
            exact = false;
          }
          expectedSize = size;
        }
        default -> {
          p = p.map(work).timeoutEach(Duration.ofSeconds(30));
          if (rnd.nextBoolean()) {
            p = p.throttle(64 + rnd.nextInt(64), Duration.ofMillis(1));
          }
        }
      }
      if (rnd.nextInt(3) == 0) {
        p = p.buffer(1 + rnd.nextInt(300));
      }
      if (kind == 6 || kind == 7 || kind == 10) {
        p = p.map(work); // take, drop and zip call no function; planned failures need one
      }
    }
    if (action == Action.CANCEL || action == Action.INTERRUPT_CALLER || action == Action.DEADLINE) {
      p =
          Pipeline.merge(
              p,
              Pipeline.generate(() -> -1)
                  .map(
                      i -> {
                        Thread.sleep(0, 100_000);
                        return i;
                      })
                  .filter(i -> false)); // keep the run alive until it is stopped
    }
    if (action == Action.DEADLINE) {
      p = p.withTimeout(Duration.ofMillis(1 + rnd.nextInt(20)));
    }
    LAST.set(p + ", n " + n + ", failAt " + failAt);
    List<Integer> out = new CopyOnWriteArrayList<>();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    long delayNanos = rnd.nextLong(5_000_000);
    LiveRunThreads live = new LiveRunThreads();
    Pipeline<Integer> run = p.withListener(live);
    switch (action) {
      case CANCEL -> {
        RunHandle<Integer> h = run.start(out::add);
        sleepNanos(delayNanos);
        h.cancel();
        try {
          h.join();
        } catch (Throwable t) {
          thrown.set(t);
        }
        assertThat(h.isDone()).isTrue();
      }
      case INTERRUPT_CALLER -> {
        Thread caller =
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        run.forEach(out::add);
                      } catch (Throwable t) {
                        thrown.set(t);
                      }
                    });
        sleepNanos(delayNanos);
        caller.interrupt();
        caller.join();
      }
      default -> {
        try {
          run.forEach(out::add);
        } catch (Throwable t) {
          thrown.set(t);
        }
      }
    }
    assertThat(inFlight.get()).as("user calls still running after the run ended").isZero();
    assertThat(live.count()).as("run threads alive after the run ended").isZero();
    switch (action) {
      case COMPLETE -> {
        assertThat(thrown.get()).isNull();
        if (ordered && exact) {
          assertThat(out).isEqualTo(expected);
        } else if (exact) {
          List<Integer> sorted = new ArrayList<>(out);
          Collections.sort(sorted);
          List<Integer> want = new ArrayList<>(expected);
          Collections.sort(want);
          assertThat(sorted).isEqualTo(want);
        } else {
          assertThat(out).hasSize(expectedSize).doesNotHaveDuplicates();
          assertThat(expected).containsAll(out);
        }
      }
      case FAIL ->
          assertThat(thrown.get())
              .isInstanceOf(PipelineException.class)
              .hasRootCauseMessage("planned failure at " + failAt);
      case CANCEL, INTERRUPT_CALLER ->
          assertThat(thrown.get()).isInstanceOf(CancellationException.class);
      case DEADLINE ->
          assertThat(thrown.get())
              .isInstanceOf(CancellationException.class)
              .hasMessageContaining("timed out");
    }
    // whatever the ending, nothing was delivered twice
    assertThat(out.stream().filter(i -> i >= 0).distinct().count())
        .isEqualTo(out.stream().filter(i -> i >= 0).count());
  }

  private static void sleepNanos(long nanos) throws InterruptedException {
    Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
  }
}
