package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code mapConcurrent} and {@code mapConcurrentUnordered} alone, under random windows, inputs,
 * call durations, error policies and endings (complete, cancel, caller interrupt, a failing call
 * with an exception or an {@link Error}, a {@code take} that cuts the stage's region, an endless
 * source cancelled). Every iteration is bounded in time (with a dump of run threads on timeout) and
 * checks: never more calls in flight than the window, nor more run threads than the window plus the
 * source and the sink; nothing outlives the run; a completed run hands on exactly the expected
 * elements (in input order when ordered) and its stage counters are exact. Scale with {@code
 * -Dmillrace.stress.iterations=N}.
 */
@Timeout(600)
@ExtendWith(NoLeakedRunThreads.class)
class ConcurrentStageStressTest {

  enum Ending {
    COMPLETE,
    CANCEL,
    INTERRUPT_CALLER,
    FAIL,
    FAIL_WITH_ERROR,
    TAKE,
    ENDLESS_CANCEL
  }

  private static final AtomicReference<String> LAST = new AtomicReference<>();

  @Test
  void randomWindowsAndEndingsLoseNothingLeakNothingAndCountExactly() throws Exception {
    StressConfig.loop(Ending.class, "ending", 30, LAST::get, ConcurrentStageStressTest::runOne);
  }

  private static void runOne(SplittableRandom rnd, Ending ending) throws Exception {
    int n = 1 + rnd.nextInt(3000);
    int window = rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(300) : 1 + rnd.nextInt(16);
    boolean ordered = rnd.nextBoolean();
    int failAt = ending == Ending.FAIL || ending == Ending.FAIL_WITH_ERROR ? rnd.nextInt(n) : -1;
    // an element skipped or retried by the policy: every `every`th, if the policy is on
    int drawn = rnd.nextInt(3); // 0: none, 1: skip, 2: retry once (IOExceptions only)
    // skip would drop the planned failure (an Error bypasses every policy)
    int policy = ending == Ending.FAIL && drawn == 1 ? 2 : drawn;
    int every = 2 + rnd.nextInt(7);
    int sleepEvery = rnd.nextInt(3) == 0 ? 1 : 1 + rnd.nextInt(64);
    int maxSleepMicros = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(2000);
    boolean timeoutEach = rnd.nextInt(5) == 0;
    int sinkDelayEvery = rnd.nextInt(3) == 0 ? 1 + rnd.nextInt(50) : 0;
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger maxInFlight = new AtomicInteger();
    AtomicInteger maxThreads = new AtomicInteger();
    ConcurrentHashMap<Integer, Boolean> failedOnce = new ConcurrentHashMap<>();
    LiveRunThreads live = new LiveRunThreads();
    long callSeed = rnd.nextLong();
    ThrowingFunction<Integer, Integer> fn =
        i -> {
          int now = inFlight.incrementAndGet();
          maxInFlight.accumulateAndGet(now, Math::max);
          maxThreads.accumulateAndGet(live.count(), Math::max);
          try {
            if (i == failAt) {
              if (ending == Ending.FAIL_WITH_ERROR) {
                throw new Error("planned error at " + i);
              }
              throw new IllegalStateException("planned failure at " + i);
            }
            if (policy != 0
                && i >= 0
                && i % every == 0
                && failedOnce.putIfAbsent(i, true) == null) {
              throw new java.io.IOException("flaky " + i);
            }
            if (maxSleepMicros > 0 && i % sleepEvery == 0) {
              long micros = new SplittableRandom(callSeed ^ i).nextInt(maxSleepMicros + 1);
              Thread.sleep(micros / 1000, (int) (micros % 1000) * 1000);
            } else if ((i & 3) == 0) {
              Thread.yield();
            }
            return i;
          } finally {
            inFlight.decrementAndGet();
          }
        };
    Pipeline<Integer> src =
        ending == Ending.ENDLESS_CANCEL
            ? Pipeline.generate(new AtomicInteger()::getAndIncrement)
            : Pipeline.from(IntStream.range(0, n).boxed().toList());
    if (rnd.nextBoolean()) {
      src = src.buffer(1 + rnd.nextInt(64));
    }
    Pipeline<Integer> p =
        ordered ? src.mapConcurrent(window, fn) : src.mapConcurrentUnordered(window, fn);
    p = p.named("conc");
    if (policy == 1) {
      p = p.onError(ErrorPolicy.skip());
    } else if (policy == 2) {
      p =
          p.onError(
              ErrorPolicy.retry(2, Duration.ZERO).retryOn(e -> e instanceof java.io.IOException));
    }
    if (timeoutEach) {
      p = p.timeoutEach(Duration.ofSeconds(30));
    }
    int takeK = ending == Ending.TAKE ? rnd.nextInt(n + 2) : -1;
    if (takeK >= 0) {
      p = p.take(takeK);
    }
    if (rnd.nextInt(3) == 0) {
      p = p.buffer(1 + rnd.nextInt(300));
    }
    LAST.set(
        (ordered ? "ordered" : "unordered")
            + ", n "
            + n
            + ", window "
            + window
            + ", failAt "
            + failAt
            + ", policy "
            + policy
            + "/"
            + every
            + ", sleep "
            + maxSleepMicros
            + "us/"
            + sleepEvery
            + ", timeoutEach "
            + timeoutEach
            + ", take "
            + takeK
            + ", sinkDelay "
            + sinkDelayEvery);
    List<Integer> out = new CopyOnWriteArrayList<>();
    ThrowingConsumer<Integer> sink =
        v -> {
          out.add(v);
          if (sinkDelayEvery > 0 && out.size() % sinkDelayEvery == 0) {
            Thread.sleep(0, 200_000);
          }
        };
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicReference<RunHandle<?>> handle = new AtomicReference<>();
    Pipeline<Integer> run =
        p.withListener(
                new RunListener() {
                  @Override
                  public void onStart(RunHandle<?> r) {
                    handle.set(r);
                  }
                })
            .withListener(live);
    long delayNanos = rnd.nextLong(5_000_000);
    switch (ending) {
      case CANCEL, ENDLESS_CANCEL -> {
        RunHandle<Integer> started = run.start(sink);
        Thread.sleep(delayNanos / 1_000_000, (int) (delayNanos % 1_000_000));
        started.cancel();
        try {
          started.join();
        } catch (Throwable t) {
          thrown.set(t);
        }
      }
      case INTERRUPT_CALLER -> {
        Thread caller =
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        run.forEach(sink);
                      } catch (Throwable t) {
                        thrown.set(t);
                      }
                    });
        Thread.sleep(delayNanos / 1_000_000, (int) (delayNanos % 1_000_000));
        caller.interrupt();
        caller.join();
      }
      default -> {
        try {
          run.forEach(sink);
        } catch (Throwable t) {
          thrown.set(t);
        }
      }
    }
    RunHandle<?> h = handle.get();
    assertThat(h.isDone()).isTrue();
    assertThat(inFlight.get()).as("user calls still running after the run ended").isZero();
    assertThat(live.count()).as("run threads alive after the run ended").isZero();
    assertThat(maxInFlight.get())
        .as("calls in flight at most the window")
        .isLessThanOrEqualTo(window);
    if (!timeoutEach) { // timeoutEach adds a watcher thread per call
      // the source, the buffers' stages, the sink, and at most `window` workers
      assertThat(maxThreads.get()).as("run threads").isLessThanOrEqualTo(window + 5);
    }
    StageStats st = h.stats().stage("conc");
    assertThat(st.inFlight()).as("inFlight after the end").isZero();
    switch (ending) {
      case COMPLETE -> {
        assertThat(thrown.get()).isNull();
        List<Integer> expected = new ArrayList<>();
        long skipped = 0;
        for (int i = 0; i < n; i++) {
          if (policy == 1 && i % every == 0) {
            skipped++;
          } else {
            expected.add(i);
          }
        }
        if (ordered) {
          assertThat(out).isEqualTo(expected);
        } else {
          List<Integer> sorted = new ArrayList<>(out);
          Collections.sort(sorted);
          assertThat(sorted).isEqualTo(expected);
        }
        long flaky = policy == 0 ? 0 : (n + every - 1) / every;
        assertThat(st.in()).as("in").isEqualTo(n);
        assertThat(st.out()).as("out").isEqualTo(expected.size());
        assertThat(st.failed()).as("failed").isEqualTo(flaky);
        assertThat(st.skipped()).as("skipped").isEqualTo(skipped);
        assertThat(st.retried()).as("retried").isEqualTo(policy == 2 ? flaky : 0);
        assertThat(st.buffered()).as("buffered").isZero();
      }
      case TAKE -> {
        assertThat(thrown.get()).isNull();
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          if (policy != 1 || i % every != 0) {
            expected.add(i);
          }
        }
        int size = Math.min(takeK, expected.size());
        assertThat(out).hasSize(size);
        if (ordered) {
          assertThat(out).isEqualTo(expected.subList(0, size));
        } else {
          assertThat(expected).containsAll(out);
        }
        assertThat(st.out()).as("out at most in").isLessThanOrEqualTo(st.in());
      }
      case FAIL ->
          assertThat(thrown.get())
              .isInstanceOf(PipelineException.class)
              .hasRootCauseMessage("planned failure at " + failAt);
      case FAIL_WITH_ERROR ->
          assertThat(thrown.get())
              .isInstanceOf(PipelineException.class)
              .hasRootCauseMessage("planned error at " + failAt);
      case CANCEL, ENDLESS_CANCEL, INTERRUPT_CALLER -> {
        // a run that ended before the cancel completed normally; otherwise it was cancelled
        if (ending == Ending.ENDLESS_CANCEL || thrown.get() != null) {
          assertThat(thrown.get()).isInstanceOf(CancellationException.class);
        }
      }
    }
    assertThat(out).as("nothing handed on twice").doesNotHaveDuplicates();
    assertThat(st.out())
        .as("out counts what the sink got, at least")
        .isGreaterThanOrEqualTo(out.size());
  }
}
