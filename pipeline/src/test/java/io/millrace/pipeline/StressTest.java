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

  @Test
  void randomPipelinesEndedAtRandomMomentsLeakNothingAndLoseNothing() throws Exception {
    long seed = Long.getLong("millrace.stress.seed", System.nanoTime());
    SplittableRandom rnd = new SplittableRandom(seed);
    int iterations = StressConfig.iterations();
    int[] outcomes = new int[Action.values().length];
    for (int it = 0; it < iterations; it++) {
      Action action = Action.values()[rnd.nextInt(Action.values().length)];
      long iterationSeed = rnd.nextLong();
      String where = "seed " + seed + ", iteration " + it + ", action " + action;
      try {
        Bounded.within(
            Duration.ofSeconds(20), () -> runOne(new SplittableRandom(iterationSeed), action));
      } catch (AssertionError e) {
        throw new AssertionError(where + ": " + e.getMessage(), e);
      }
      outcomes[action.ordinal()]++;
    }
    if (iterations >= 20) {
      assertThat(outcomes).doesNotContain(0);
    }
  }

  private static void runOne(SplittableRandom rnd, Action action) throws Exception {
    int n = 1 + rnd.nextInt(3000);
    AtomicInteger inFlight = new AtomicInteger();
    int failAt = action == Action.FAIL ? rnd.nextInt(n) : -1;
    boolean ordered = true;
    Pipeline<Integer> p = Pipeline.from(IntStream.range(0, n).boxed().toList());
    if (rnd.nextBoolean()) {
      p = p.buffer(1 + rnd.nextInt(64));
    }
    int stages = 1 + rnd.nextInt(4);
    for (int s = 0; s < stages; s++) {
      int kind = rnd.nextInt(6);
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
        default -> p = p.flatMap(i -> List.of(work.apply(i)));
      }
      if (rnd.nextInt(3) == 0) {
        p = p.buffer(1 + rnd.nextInt(300));
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
        List<Integer> expected = IntStream.range(0, n).boxed().toList();
        if (ordered) {
          assertThat(out).isEqualTo(expected);
        } else {
          List<Integer> sorted = new ArrayList<>(out);
          Collections.sort(sorted);
          assertThat(sorted).isEqualTo(expected);
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
