package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;

/**
 * Nothing outlives a run: for every way a run can end, and every kind of stage doing slow work when
 * it ends, the terminal operation returns only after every user call has returned and every thread
 * of the run has stopped.
 */
@Timeout(60)
@ExtendWith(NoLeakedRunThreads.class)
class StructuredTest {

  enum Ending {
    SUCCESS,
    FAILURE,
    CANCEL,
    TIMEOUT,
    CALLER_INTERRUPT
  }

  enum Kind {
    MAP,
    FILTER,
    FLAT_MAP,
    MAP_CONCURRENT,
    MAP_CONCURRENT_UNORDERED,
    BATCH_THEN_MAP,
    MERGE,
    SINK,
    TAKE,
    TAKE_WHILE,
    DROP,
    THROTTLE,
    MAP_CONCURRENT_PARTITIONED,
    ALSO_TO,
    ZIP,
    TIMEOUT_EACH
  }

  static final class Calls {
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger started = new AtomicInteger();

    <T> T slow(T v, Ending ending) throws InterruptedException {
      inFlight.incrementAndGet();
      started.incrementAndGet();
      try {
        Thread.sleep(ending == Ending.SUCCESS ? 1 : 20);
        if (ending == Ending.FAILURE && started.get() > 5) {
          throw new IllegalStateException("planned failure");
        }
        return v;
      } finally {
        inFlight.decrementAndGet();
      }
    }
  }

  static Pipeline<Integer> shape(Kind kind, Pipeline<Integer> src, Calls c, Ending e) {
    return switch (kind) {
      case MAP -> src.map(i -> c.slow(i, e));
      case FILTER -> src.filter(i -> c.slow(true, e));
      case FLAT_MAP -> src.flatMap(i -> java.util.List.of(c.slow(i, e), i));
      case MAP_CONCURRENT -> src.mapConcurrent(4, i -> c.slow(i, e));
      case MAP_CONCURRENT_UNORDERED -> src.mapConcurrentUnordered(4, i -> c.slow(i, e));
      case BATCH_THEN_MAP -> src.batch(3, Duration.ofMillis(5)).map(b -> c.slow(b.get(0), e));
      case MERGE ->
          Pipeline.merge(
              src.map(i -> c.slow(i, e)),
              Pipeline.from(java.util.List.of(1, 2)).map(i -> c.slow(i, e)));
      case SINK -> src;
      // on SUCCESS (50 elements) the take cuts its upstream while calls of the map are in flight
      case TAKE -> src.map(i -> c.slow(i, e)).take(30);
      case TAKE_WHILE -> src.map(i -> c.slow(i, e)).takeWhile(i -> i < 30);
      case DROP -> src.drop(2).map(i -> c.slow(i, e));
      case THROTTLE -> src.map(i -> c.slow(i, e)).throttle(2, Duration.ofMillis(10));
      case MAP_CONCURRENT_PARTITIONED ->
          src.mapConcurrentPartitioned(4, i -> i % 3, i -> c.slow(i, e));
      case ALSO_TO -> src.alsoTo(i -> c.slow(i, e));
      // on SUCCESS the left side ends and the zip cuts the endless right side mid-call
      case ZIP -> src.zip(Pipeline.generate(() -> 0).map(i -> c.slow(i, e)), Integer::sum);
      case TIMEOUT_EACH ->
          src.mapConcurrent(4, i -> c.slow(i, e)).timeoutEach(Duration.ofSeconds(30));
    };
  }

  @ParameterizedTest(name = "{0} while {1} works")
  @org.junit.jupiter.params.provider.MethodSource("matrix")
  void theTerminalOperationReturnsOnlyAfterEveryCallAndThreadHasEnded(Ending ending, Kind kind)
      throws Exception {
    Calls calls = new Calls();
    Pipeline<Integer> src =
        ending == Ending.SUCCESS
            ? Pipeline.from(java.util.stream.IntStream.range(0, 50).boxed().toList())
            : Pipeline.generate(() -> 1);
    Pipeline<Integer> p = shape(kind, src, calls, ending);
    if (ending == Ending.TIMEOUT) {
      p = p.withTimeout(Duration.ofMillis(100));
    }
    LiveRunThreads live = new LiveRunThreads();
    Pipeline<Integer> run = p.withListener(live);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Bounded.within(
        Duration.ofSeconds(10),
        () -> {
          if (ending == Ending.CANCEL) {
            RunHandle<Integer> h = run.start(i -> calls.slow(i, ending));
            awaitStarted(calls);
            h.cancel();
            try {
              h.join();
            } catch (Throwable t) {
              thrown.set(t);
            }
          } else if (ending == Ending.CALLER_INTERRUPT) {
            Thread caller =
                Thread.ofVirtual()
                    .start(
                        () -> {
                          try {
                            run.forEach(i -> calls.slow(i, ending));
                          } catch (Throwable t) {
                            thrown.set(t);
                          }
                        });
            awaitStarted(calls);
            caller.interrupt();
            caller.join();
          } else {
            try {
              run.forEach(i -> calls.slow(i, ending));
            } catch (Throwable t) {
              thrown.set(t);
            }
          }
          // the moment the terminal operation is over:
          assertThat(calls.inFlight.get()).as("user calls still running").isZero();
          assertThat(live.count()).as("run threads still running").isZero();
        });
    switch (ending) {
      case SUCCESS -> assertThat(thrown.get()).isNull();
      case FAILURE ->
          assertThat(thrown.get())
              .isInstanceOf(PipelineException.class)
              .hasRootCauseMessage("planned failure");
      case CANCEL, CALLER_INTERRUPT ->
          assertThat(thrown.get()).isInstanceOf(CancellationException.class);
      case TIMEOUT ->
          assertThat(thrown.get())
              .isInstanceOf(CancellationException.class)
              .hasMessageContaining("timed out");
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> matrix() {
    return java.util.Arrays.stream(Ending.values())
        .flatMap(
            e ->
                java.util.Arrays.stream(Kind.values())
                    .map(k -> org.junit.jupiter.params.provider.Arguments.of(e, k)));
  }

  private static void awaitStarted(Calls calls) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (calls.started.get() < 3) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the run did not start working");
      }
      Thread.sleep(1);
    }
  }
}
