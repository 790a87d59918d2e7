package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

@Timeout(60)
@ExtendWith(NoLeakedRunThreads.class)
class PipelineTest {

  private static List<Integer> range(int n) {
    return IntStream.range(0, n).boxed().toList();
  }

  // ------------------------------------------------------------ sources and operators

  @Test
  void mapsInOrderFromAList() {
    List<String> out =
        Pipeline.from(List.of("FOO", "BAR", "BAX")).map(String::toLowerCase).toList();
    assertThat(out).containsExactly("foo", "bar", "bax");
  }

  @Test
  void aPipelineIsADescriptionThatCanRunTwiceOverAnIterable() {
    Pipeline<Integer> p = Pipeline.from(range(1000)).map(i -> i * 2);
    assertThat(p.toList()).isEqualTo(p.toList()).hasSize(1000);
  }

  @Test
  void streamSourceIsClosedAtTheEndAndRunsOnce() {
    AtomicBoolean closed = new AtomicBoolean();
    Pipeline<Integer> p = Pipeline.from(Stream.of(1, 2, 3).onClose(() -> closed.set(true)));
    assertThat(p.toList()).containsExactly(1, 2, 3);
    assertThat(closed).isTrue();
    assertThatThrownBy(p::toList)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("only once");
  }

  @Test
  void iteratorSourceRunsOnce() {
    Iterator<Integer> it = List.of(1, 2).iterator();
    Pipeline<Integer> p = Pipeline.from(it);
    assertThat(p.toList()).containsExactly(1, 2);
    assertThatThrownBy(p::toList).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void channelSourceEndsWhenTheChannelIsClosedAndDrained() throws Exception {
    Channel<Integer> ch = Channel.buffered(4);
    Thread producer =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    for (int i = 0; i < 100; i++) {
                      ch.send(i);
                    }
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  } finally {
                    ch.close();
                  }
                });
    assertThat(Pipeline.from(ch).toList()).isEqualTo(range(100));
    producer.join();
  }

  @Test
  void aFailedSourceChannelFailsTheRunWithItsCause() {
    Channel<Integer> ch = Channel.buffered(4);
    IOException boom = new IOException("upstream broke");
    ch.fail(boom);
    assertThatThrownBy(() -> Pipeline.from(ch).toList())
        .isInstanceOf(PipelineException.class)
        .hasCause(boom)
        .hasMessageContaining("'source'");
  }

  @Test
  void filterAndFlatMap() {
    List<Integer> out =
        Pipeline.from(range(10)).filter(i -> i % 2 == 0).flatMap(i -> List.of(i, i)).toList();
    assertThat(out).containsExactly(0, 0, 2, 2, 4, 4, 6, 6, 8, 8);
  }

  @Test
  void mergeFansInEveryElementOfEveryInput() {
    List<Integer> out =
        new ArrayList<>(
            Pipeline.merge(
                    Pipeline.from(range(1000)),
                    Pipeline.from(range(1000)).map(i -> i + 1000),
                    Pipeline.from(range(1000)).map(i -> i + 2000))
                .map(i -> i)
                .toList());
    Collections.sort(out);
    assertThat(out).isEqualTo(range(3000));
  }

  @Test
  void nullResultsFailTheStage() {
    assertThatThrownBy(
            () -> Pipeline.from(List.of(1)).map(i -> (String) null).named("nulls").toList())
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("nulls")
        .hasCauseInstanceOf(NullPointerException.class);
  }

  @Test
  void onErrorNeedsAStageWithAFunction() {
    assertThatThrownBy(() -> Pipeline.from(List.of(1)).onError(ErrorPolicy.skip()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("source");
    assertThatThrownBy(() -> Pipeline.from(List.of(1)).batch(0, Duration.ofMillis(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Pipeline.from(List.of(1)).mapConcurrent(0, i -> i))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------ fail-fast

  @Test
  void theFirstFailureCancelsTheRunAndNamesTheStage() {
    AtomicInteger generated = new AtomicInteger();
    Throwable thrown =
        catchThrowable(
            () ->
                Pipeline.generate(generated::incrementAndGet)
                    .map(
                        i -> {
                          if (i == 100) {
                            throw new IOException("bad element " + i);
                          }
                          return i;
                        })
                    .named("parse")
                    .forEach(i -> {}));
    assertThat(thrown)
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("'parse'")
        .hasCauseInstanceOf(IOException.class);
    assertThat(((PipelineException) thrown).stage()).isEqualTo("parse");
    assertThat(thrown.getCause()).hasMessage("bad element 100");
  }

  @Test
  void checkedExceptionsFromTheSinkFailTheRun() {
    assertThatThrownBy(
            () ->
                Pipeline.from(range(10))
                    .forEach(
                        i -> {
                          if (i == 5) {
                            throw new IOException("disk full");
                          }
                        }))
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("'sink'")
        .hasRootCauseMessage("disk full");
  }

  @Test
  void laterFailuresAreAttachedAsSuppressed() {
    CountDownLatch bothIn = new CountDownLatch(2);
    Throwable thrown =
        catchThrowable(
            () ->
                Pipeline.from(List.of(1, 2))
                    .mapConcurrentUnordered(
                        2,
                        i -> {
                          bothIn.countDown();
                          while (bothIn.getCount() > 0) {
                            Thread.onSpinWait(); // ignores the interrupt the first failure causes
                          }
                          throw new IllegalStateException("fail " + i);
                        })
                    .toList());
    assertThat(thrown).isInstanceOf(PipelineException.class);
    assertThat(thrown.getCause()).isInstanceOf(IllegalStateException.class);
    assertThat(thrown.getSuppressed()).hasSize(1);
    assertThat(thrown.getSuppressed()[0]).isInstanceOf(IllegalStateException.class);
    assertThat(List.of(thrown.getCause().getMessage(), thrown.getSuppressed()[0].getMessage()))
        .containsExactlyInAnyOrder("fail 1", "fail 2");
  }

  // ------------------------------------------------------------ cancellation

  @Test
  void cancelEndsAnEndlessRunWithinASecondAndInterruptsCallsInFlight() throws Exception {
    InFlight calls = new InFlight();
    AtomicInteger interrupted = new AtomicInteger();
    RunHandle<Integer> h =
        Pipeline.generate(() -> 1)
            .mapConcurrent(
                4,
                i -> {
                  calls.enter();
                  try {
                    Thread.sleep(60_000);
                  } catch (InterruptedException e) {
                    interrupted.incrementAndGet();
                    throw e;
                  } finally {
                    calls.exit();
                  }
                  return i;
                })
            .start(i -> {});
    calls.awaitAtLeast(4);
    long t0 = System.nanoTime();
    h.cancel();
    assertThatThrownBy(h::join)
        .isInstanceOf(CancellationException.class)
        .hasMessageContaining("cancelled");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(1));
    assertThat(h.isDone()).isTrue();
    assertThat(calls.now()).isZero();
    assertThat(interrupted.get()).isEqualTo(4);
  }

  @Test
  void aDeadlineCancelsTheRunAndSaysItTimedOut() {
    long t0 = System.nanoTime();
    Throwable thrown =
        catchThrowable(
            () ->
                Pipeline.generate(() -> 1)
                    .map(
                        i -> {
                          Thread.sleep(10);
                          return i;
                        })
                    .withTimeout(Duration.ofMillis(200))
                    .forEach(i -> {}));
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    assertThat(thrown)
        .isInstanceOf(CancellationException.class)
        .hasMessageContaining("timed out")
        .hasCauseInstanceOf(TimeoutException.class);
    assertThat(took)
        .isGreaterThanOrEqualTo(Duration.ofMillis(190))
        .isLessThan(Duration.ofMillis(1200));
  }

  @Test
  void interruptingTheCallerCancelsTheRunAndKeepsTheInterrupt() throws Exception {
    InFlight calls = new InFlight();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicBoolean flagAfter = new AtomicBoolean();
    Thread caller =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    Pipeline.generate(() -> 1)
                        .map(
                            i -> {
                              calls.enter();
                              try {
                                Thread.sleep(60_000);
                              } finally {
                                calls.exit();
                              }
                              return i;
                            })
                        .forEach(i -> {});
                  } catch (Throwable e) {
                    thrown.set(e);
                  }
                  flagAfter.set(Thread.currentThread().isInterrupted());
                });
    calls.awaitAtLeast(1);
    long t0 = System.nanoTime();
    caller.interrupt();
    assertThat(caller.join(Duration.ofSeconds(1))).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(1));
    assertThat(thrown.get())
        .isInstanceOf(CancellationException.class)
        .hasMessageContaining("interrupted");
    assertThat(flagAfter).isTrue();
    assertThat(calls.now()).isZero();
  }

  @Test
  void cancelAfterTheEndChangesNothing() throws Exception {
    RunHandle<Integer> h = Pipeline.from(range(10)).start(i -> {});
    h.join();
    h.cancel();
    h.join();
    assertThat(h.join(Duration.ofMillis(1))).isTrue();
  }

  @Test
  void joinWithTimeoutReportsARunStillGoing() throws Exception {
    RunHandle<Integer> h = Pipeline.generate(() -> 1).start(i -> Thread.sleep(1));
    assertThat(h.join(Duration.ofMillis(50))).isFalse();
    h.cancel();
    assertThatThrownBy(() -> h.join(Duration.ofSeconds(5)))
        .isInstanceOf(CancellationException.class);
  }

  // ------------------------------------------------------------ bounded memory

  @Test
  void anEndlessSourceIntoASlowSinkHoldsOnlyWhatTheBuffersAndChunksHold() throws Exception {
    AtomicLong2 produced = new AtomicLong2();
    AtomicLong2 consumed = new AtomicLong2();
    AtomicLong2 maxGap = new AtomicLong2();
    int capacity = 16;
    RunHandle<Integer> h =
        Pipeline.generate(() -> (int) produced.incrementAndGet())
            .buffer(capacity)
            .map(i -> i)
            .buffer(capacity)
            .start(
                i -> {
                  long c = consumed.incrementAndGet();
                  maxGap.max(produced.get() - c);
                  Thread.sleep(1);
                });
    Thread.sleep(1500);
    h.cancel();
    assertThatThrownBy(h::join).isInstanceOf(CancellationException.class);
    // two buffers, plus at most one chunk held by each of source, map (in and out) and sink
    long bound = 2L * capacity + 4L * Math.min(Pipeline.CHUNK, capacity) + 1;
    assertThat(consumed.get()).isGreaterThan(100);
    assertThat(maxGap.get()).isLessThanOrEqualTo(bound);
    assertThat(produced.get() - consumed.get()).isLessThanOrEqualTo(bound + 1);
  }

  // ------------------------------------------------------------ bounded concurrency

  @Test
  void mapConcurrentNeverExceedsItsLimitKeepsOrderAndReachesTheLimit() {
    InFlight calls = new InFlight();
    AtomicInteger maxThreads = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    CountDownLatch firstEight = new CountDownLatch(8);
    List<Integer> out =
        Pipeline.from(range(400))
            .mapConcurrent(
                8,
                i -> {
                  calls.enter();
                  maxThreads.accumulateAndGet(live.count(), Math::max);
                  try {
                    if (i < 8) { // the first eight meet: the limit is reached, whatever the load
                      firstEight.countDown();
                      firstEight.await(10, java.util.concurrent.TimeUnit.SECONDS);
                    }
                    Thread.sleep((i * 7) % 5);
                  } finally {
                    calls.exit();
                  }
                  return i;
                })
            .withListener(live)
            .toList();
    assertThat(out).isEqualTo(range(400));
    assertThat(calls.max()).isEqualTo(8);
    // source, sink, and at most 8 workers (the stage's thread is the first)
    assertThat(maxThreads.get()).isLessThanOrEqualTo(2 + 8);
  }

  @Test
  void mapConcurrentUnorderedEmitsResultsAsTheyComplete() {
    InFlight calls = new InFlight();
    List<Integer> out =
        Pipeline.from(List.of(300, 1, 2, 3))
            .mapConcurrentUnordered(
                4,
                ms -> {
                  calls.enter();
                  try {
                    Thread.sleep(ms);
                  } finally {
                    calls.exit();
                  }
                  return ms;
                })
            .toList();
    assertThat(out).containsExactlyInAnyOrder(300, 1, 2, 3);
    assertThat(out.get(3)).isEqualTo(300);
    assertThat(calls.max()).isLessThanOrEqualTo(4);
  }

  @Test
  void mapConcurrentStartsNoMoreThreadsThanItemsInFlight() {
    InFlight calls = new InFlight();
    AtomicInteger maxThreads = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    Pipeline.from(range(2000))
        .mapConcurrentUnordered(
            3,
            i -> {
              calls.enter();
              maxThreads.accumulateAndGet(live.count(), Math::max);
              calls.exit();
              return i;
            })
        .withListener(live)
        .forEach(i -> {});
    // source, sink, and at most 3 workers (the stage's thread is the first)
    assertThat(maxThreads.get()).isLessThanOrEqualTo(2 + 3);
    assertThat(calls.max()).isLessThanOrEqualTo(3);
  }

  // ------------------------------------------------------------ batching

  @Test
  void batchesBySizeAndEmitsTheLastPartialBatchAtTheEnd() {
    List<List<Integer>> out = Pipeline.from(range(10)).batch(3, Duration.ofHours(1)).toList();
    assertThat(out)
        .containsExactly(List.of(0, 1, 2), List.of(3, 4, 5), List.of(6, 7, 8), List.of(9));
  }

  @Test
  void batchesByTimeAfterTheFirstElementArrived() throws Exception {
    Channel<Integer> ch = Channel.buffered(16);
    List<Long> emittedAfterMillis = new CopyOnWriteArrayList<>();
    List<List<Integer>> batches = new CopyOnWriteArrayList<>();
    long[] firstSent = new long[1];
    RunHandle<List<Integer>> h =
        Pipeline.from(ch)
            .batch(100, Duration.ofMillis(150))
            .start(
                b -> {
                  batches.add(b);
                  emittedAfterMillis.add((System.nanoTime() - firstSent[0]) / 1_000_000);
                });
    Thread.sleep(300); // an idle source emits nothing: no empty batches
    assertThat(batches).isEmpty();
    firstSent[0] = System.nanoTime();
    ch.send(1);
    ch.send(2);
    Bounded.within(
        Duration.ofSeconds(5),
        () -> {
          while (batches.isEmpty()) {
            Thread.sleep(5);
          }
        });
    assertThat(batches.get(0)).containsExactly(1, 2);
    assertThat(emittedAfterMillis.get(0)).isBetween(140L, 900L);
    ch.send(3);
    ch.close();
    h.join();
    assertThat(batches).containsExactly(List.of(1, 2), List.of(3));
  }

  // ------------------------------------------------------------ error policies

  @Test
  void skipDropsTheFailedElementsAndCountsThem() throws Exception {
    RunHandle<Integer> h;
    List<Integer> out = new CopyOnWriteArrayList<>();
    h =
        Pipeline.from(range(10))
            .map(
                i -> {
                  if (i % 3 == 0) {
                    throw new IllegalArgumentException("no " + i);
                  }
                  return i;
                })
            .onError(ErrorPolicy.skip())
            .named("picky")
            .start(out::add);
    h.join();
    assertThat(out).containsExactly(1, 2, 4, 5, 7, 8);
    StageStats s = h.stats().stage("picky");
    assertThat(s.skipped()).isEqualTo(4);
    assertThat(s.failed()).isEqualTo(4);
    assertThat(s.in()).isEqualTo(10);
    assertThat(s.out()).isEqualTo(6);
  }

  @Test
  void retryCallsAgainUntilItSucceeds() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    RunHandle<Integer> h;
    List<Integer> out = new CopyOnWriteArrayList<>();
    h =
        Pipeline.from(List.of(1))
            .mapConcurrent(
                2,
                i -> {
                  if (calls.incrementAndGet() < 3) {
                    throw new IOException("flaky");
                  }
                  return i;
                })
            .onError(ErrorPolicy.retry(5, Duration.ofMillis(1)))
            .named("upload")
            .start(out::add);
    h.join();
    assertThat(out).containsExactly(1);
    assertThat(calls.get()).isEqualTo(3);
    StageStats s = h.stats().stage("upload");
    assertThat(s.retried()).isEqualTo(2);
    assertThat(s.failed()).isEqualTo(2);
  }

  @Test
  void retryThatRunsOutFailsTheRunByDefault() {
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(
            () ->
                Pipeline.from(List.of(1))
                    .map(
                        i -> {
                          calls.incrementAndGet();
                          throw new IOException("always");
                        })
                    .onError(ErrorPolicy.retry(3, Duration.ofMillis(1)))
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("always");
    assertThat(calls.get()).isEqualTo(3);
  }

  @Test
  void retryThatRunsOutHandsOverToOrElse() throws Exception {
    List<Object> dead = new CopyOnWriteArrayList<>();
    RunHandle<Integer> h;
    List<Integer> out = new CopyOnWriteArrayList<>();
    h =
        Pipeline.from(range(6))
            .map(
                i -> {
                  if (i == 4) {
                    throw new IOException("poison");
                  }
                  return i;
                })
            .onError(
                ErrorPolicy.retry(2, Duration.ZERO)
                    .orElse(ErrorPolicy.divert((e, ex) -> dead.add(e + ":" + ex.getMessage()))))
            .named("m")
            .start(out::add);
    h.join();
    assertThat(out).containsExactly(0, 1, 2, 3, 5);
    assertThat(dead).containsExactly("4:poison");
    StageStats s = h.stats().stage("m");
    assertThat(s.diverted()).isEqualTo(1);
    assertThat(s.retried()).isEqualTo(1);
    assertThat(s.failed()).isEqualTo(2);
  }

  @Test
  void retryBackoffGrowsExponentiallyIsCappedAndJittered() {
    ErrorPolicy.Retry r =
        ErrorPolicy.retry(10, Duration.ofMillis(100)).withMaxBackoff(Duration.ofMillis(1000));
    java.util.Random zero =
        new java.util.Random() {
          @Override
          public double nextDouble() {
            return 0;
          }
        };
    java.util.Random one =
        new java.util.Random() {
          @Override
          public double nextDouble() {
            return 0.999999;
          }
        };
    assertThat(r.backoff(1, zero)).isEqualTo(Duration.ofMillis(100));
    assertThat(r.backoff(2, zero)).isEqualTo(Duration.ofMillis(200));
    assertThat(r.backoff(4, zero)).isEqualTo(Duration.ofMillis(800));
    assertThat(r.backoff(5, zero)).isEqualTo(Duration.ofMillis(1000));
    assertThat(r.backoff(60, zero)).isEqualTo(Duration.ofMillis(1000));
    assertThat(r.backoff(2, one).toMillis()).isBetween(100L, 101L);
    assertThat(r.withJitter(0).backoff(3, one)).isEqualTo(Duration.ofMillis(400));
    assertThatThrownBy(() -> ErrorPolicy.retry(0, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aRetryWaitingInBackoffIsInterruptedByCancel() throws Exception {
    InFlight calls = new InFlight();
    RunHandle<Integer> h =
        Pipeline.from(List.of(1))
            .<Integer>map(
                i -> {
                  calls.enter();
                  calls.exit();
                  throw new IOException("down");
                })
            .onError(ErrorPolicy.retry(5, Duration.ofSeconds(30)).withJitter(0))
            .start(i -> {});
    calls.awaitCalls(1);
    Thread.sleep(50);
    long t0 = System.nanoTime();
    h.cancel();
    assertThatThrownBy(h::join).isInstanceOf(CancellationException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(1));
  }

  // ------------------------------------------------------------ observability

  @Test
  void statsAndListenerSeeEveryStage() throws Exception {
    AtomicReference<PipelineStats> atEnd = new AtomicReference<>();
    AtomicReference<RunHandle<?>> started = new AtomicReference<>();
    RunHandle<Integer> h =
        Pipeline.from(range(100))
            .map(i -> i + 1)
            .named("inc")
            .filter(i -> i % 2 == 0)
            .withListener(
                new RunListener() {
                  @Override
                  public void onStart(RunHandle<?> run) {
                    started.set(run);
                  }

                  @Override
                  public void onEnd(RunHandle<?> run, PipelineStats finalStats, Throwable failure) {
                    atEnd.set(finalStats);
                  }
                })
            .start(i -> {});
    h.join();
    assertThat(started.get()).isSameAs(h);
    PipelineStats s = atEnd.get();
    assertThat(s.stages())
        .extracting(StageStats::name)
        .containsExactly("source", "inc", "filter", "sink");
    assertThat(s.stage("inc").in()).isEqualTo(100);
    assertThat(s.stage("inc").out()).isEqualTo(100);
    assertThat(s.stage("filter").out()).isEqualTo(50);
    assertThat(s.stage("sink").in()).isEqualTo(50);
    assertThat(h.stats()).isEqualTo(s);
  }

  // ------------------------------------------------------------ helpers

  static Throwable catchThrowable(Bounded.Body body) {
    try {
      body.run();
      return null;
    } catch (Throwable t) {
      return t;
    }
  }

  /** Counts user-function calls in flight; {@code now()} must be 0 after a run ends. */
  static final class InFlight {
    private final AtomicInteger now = new AtomicInteger();
    private final AtomicInteger max = new AtomicInteger();
    private final AtomicInteger total = new AtomicInteger();

    void enter() {
      max.accumulateAndGet(now.incrementAndGet(), Math::max);
      total.incrementAndGet();
    }

    void exit() {
      now.decrementAndGet();
    }

    int now() {
      return now.get();
    }

    int max() {
      return max.get();
    }

    void awaitCalls(int n) throws InterruptedException {
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (total.get() < n) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("only " + total.get() + " calls made, expected " + n);
        }
        Thread.sleep(1);
      }
    }

    void awaitAtLeast(int n) throws InterruptedException {
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (now.get() < n) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("only " + now.get() + " calls in flight, expected " + n);
        }
        Thread.sleep(1);
      }
    }
  }

  static final class AtomicLong2 extends java.util.concurrent.atomic.AtomicLong {
    void max(long v) {
      accumulateAndGet(v, Math::max);
    }
  }
}
