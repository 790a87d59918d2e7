package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The operators and terminals of issue 11: take, takeWhile, drop, throttle,
 * mapConcurrentPartitioned, alsoTo, zip, timeoutEach, fold, count, runTo, and retryOn. Every test
 * is bounded and checks that nothing outlives the run ({@link NoLeakedRunThreads}, and {@link
 * LiveRunThreads} the instant the terminal operation returns).
 */
@Timeout(60)
@ExtendWith(NoLeakedRunThreads.class)
class OperatorsTest {

  private static List<Integer> range(int n) {
    return IntStream.range(0, n).boxed().toList();
  }

  /** An endless source counting how many elements it produced. */
  private static Pipeline<Integer> counting(AtomicInteger produced) {
    return Pipeline.generate(produced::getAndIncrement);
  }

  private static void sleepForever() throws InterruptedException {
    Thread.sleep(Duration.ofHours(1));
  }

  // ------------------------------------------------------------ take

  @Test
  void takePassesTheFirstNAndEndsNormally() {
    assertThat(Pipeline.from(range(100)).take(10).toList()).isEqualTo(range(10));
    assertThat(Pipeline.from(range(5)).take(10).toList()).isEqualTo(range(5));
    assertThat(Pipeline.from(List.<Integer>of()).take(3).toList()).isEmpty();
  }

  @Test
  void takeZeroEndsAtOnceEvenOnAnEndlessSource() {
    AtomicInteger produced = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    Bounded.within(
        Duration.ofSeconds(5),
        () -> {
          assertThat(counting(produced).take(0).withListener(live).toList()).isEmpty();
          assertThat(live.count()).isZero();
        });
  }

  @Test
  void takeStopsAnEndlessSourceAndEveryStageBeforeItAndNothingOutlivesTheRun() {
    AtomicInteger produced = new AtomicInteger();
    AtomicInteger calls = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    Bounded.within(
        Duration.ofSeconds(10),
        () -> {
          List<Integer> out =
              counting(produced)
                  .map(i -> i * 2)
                  .mapConcurrent(
                      4,
                      i -> {
                        calls.incrementAndGet();
                        return i;
                      })
                  .take(1000)
                  .withListener(live)
                  .toList();
          assertThat(out).isEqualTo(range(1000).stream().map(i -> i * 2).toList());
          assertThat(live.count()).as("run threads after take ended the run").isZero();
        });
    int producedAtEnd = produced.get();
    int callsAtEnd = calls.get();
    sleep(50);
    assertThat(produced.get()).as("the source went on after the run").isEqualTo(producedAtEnd);
    assertThat(calls.get()).isEqualTo(callsAtEnd);
  }

  @Test
  void takeInterruptsUpstreamCallsThatWouldNeverReturn() {
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger interrupted = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    Bounded.within(
        Duration.ofSeconds(10),
        () -> {
          List<Integer> out =
              Pipeline.generate(() -> 1)
                  .mapConcurrentUnordered(
                      8,
                      new ThrowingFunction<Integer, Integer>() {
                        final AtomicInteger n = new AtomicInteger();

                        @Override
                        public Integer apply(Integer i) throws Exception {
                          if (n.getAndIncrement() < 3) {
                            // hand the take its 3 elements only once a call it must stop runs
                            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                            while (inFlight.get() == 0 && System.nanoTime() < deadline) {
                              Thread.sleep(1);
                            }
                            return i;
                          }
                          inFlight.incrementAndGet();
                          try {
                            sleepForever();
                            return i;
                          } catch (InterruptedException e) {
                            interrupted.incrementAndGet();
                            throw e;
                          } finally {
                            inFlight.decrementAndGet();
                          }
                        }
                      })
                  .take(3)
                  .withListener(live)
                  .toList();
          assertThat(out).containsExactly(1, 1, 1);
          assertThat(inFlight.get()).isZero();
          assertThat(live.count()).isZero();
        });
    assertThat(interrupted.get()).isPositive();
  }

  @Test
  void takeClosesAStreamSourceItStopped() {
    AtomicBoolean closed = new AtomicBoolean();
    Stream<Integer> endless = Stream.iterate(0, i -> i + 1).onClose(() -> closed.set(true));
    assertThat(Pipeline.from(endless).take(3).toList()).containsExactly(0, 1, 2);
    assertThat(closed).isTrue();
  }

  @Test
  void takesNestAndStagesAfterTheTakeStillRun() {
    AtomicInteger produced = new AtomicInteger();
    List<String> out =
        counting(produced).take(100).map(i -> "v" + i).take(3).map(s -> s + "!").toList();
    assertThat(out).containsExactly("v0!", "v1!", "v2!");
  }

  @Test
  void aFailureBeforeTheNthElementStillFailsTheRun() {
    assertThatThrownBy(
            () ->
                Pipeline.from(range(100))
                    .map(
                        i -> {
                          if (i == 5) {
                            throw new IllegalStateException("boom at 5");
                          }
                          return i;
                        })
                    .take(50)
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("boom at 5");
  }

  @Test
  void aFailureAfterTheCutIsDropped() {
    // upstream of the take fails right after handing on what the take needs
    List<Integer> out =
        Pipeline.from(range(100))
            .buffer(1)
            .map(
                i -> {
                  if (i == 3) {
                    Thread.sleep(50); // the take has its 3 elements by now
                    throw new IllegalStateException("too late to matter");
                  }
                  return i;
                })
            .buffer(1)
            .take(3)
            .toList();
    assertThat(out).containsExactly(0, 1, 2);
  }

  @Test
  void cancellingARunWithATakeEndsItCancelled() throws Exception {
    RunHandle<Integer> h =
        Pipeline.generate(
                () -> {
                  Thread.sleep(1);
                  return 1;
                })
            .take(1_000_000)
            .start(i -> {});
    sleep(20);
    h.cancel();
    assertThatThrownBy(h::join).isInstanceOf(CancellationException.class);
  }

  @Test
  void takeOfNegativeIsRejected() {
    assertThatThrownBy(() -> Pipeline.from(range(1)).take(-1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Pipeline.from(range(1)).drop(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------ takeWhile, drop

  @Test
  void takeWhileStopsAtTheFirstRejectedElement() {
    assertThat(Pipeline.from(List.of(1, 2, 3, 10, 1, 2)).takeWhile(i -> i < 5).toList())
        .containsExactly(1, 2, 3);
    assertThat(Pipeline.from(List.<Integer>of()).takeWhile(i -> true).toList()).isEmpty();
    AtomicInteger produced = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    assertThat(counting(produced).takeWhile(i -> i < 500).withListener(live).toList())
        .isEqualTo(range(500));
    assertThat(live.count()).isZero();
  }

  @Test
  void aThrowingTakeWhilePredicateFailsTheRun() {
    assertThatThrownBy(
            () ->
                Pipeline.from(range(10))
                    .takeWhile(
                        i -> {
                          if (i == 4) {
                            throw new IOException("predicate broke");
                          }
                          return true;
                        })
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("takeWhile")
        .hasRootCauseMessage("predicate broke");
  }

  @Test
  void dropSkipsTheFirstN() {
    assertThat(Pipeline.from(range(10)).drop(3).toList()).isEqualTo(range(10).subList(3, 10));
    assertThat(Pipeline.from(range(10)).drop(0).toList()).isEqualTo(range(10));
    assertThat(Pipeline.from(range(10)).drop(100).toList()).isEmpty();
    assertThat(Pipeline.from(List.<Integer>of()).drop(1).toList()).isEmpty();
    assertThat(Pipeline.from(range(1000)).drop(500).take(2).toList()).containsExactly(500, 501);
  }

  // ------------------------------------------------------------ throttle

  /** A clock that moves only when the throttle sleeps. */
  static final class FakePacer implements Pacer {
    final AtomicLong now = new AtomicLong();
    final List<Long> sleeps = new CopyOnWriteArrayList<>();

    @Override
    public long nanoTime() {
      return now.get();
    }

    @Override
    public void sleepNanos(long nanos) throws InterruptedException {
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
      sleeps.add(nanos);
      now.addAndGet(nanos);
    }
  }

  @Test
  void throttleLetsABurstThroughThenWaitsForTheWindowToSlide() {
    FakePacer clock = new FakePacer();
    long second = TimeUnit.SECONDS.toNanos(1);
    assertThat(Pipeline.from(range(10)).throttle(3, Duration.ofSeconds(1), clock).toList())
        .isEqualTo(range(10));
    // 0, 1, 2 at once; 3 waits until 0 is a second old, 4 and 5 then go at once; and so on
    assertThat(clock.sleeps).containsExactly(second, second, second);
    assertThat(clock.now.get()).isEqualTo(3 * second);
  }

  @Test
  void throttleWaitsOnlyForWhatIsLeftOfTheWindow() {
    FakePacer clock = new FakePacer();
    long ms = TimeUnit.MILLISECONDS.toNanos(1);
    Pipeline.from(range(4))
        .throttle(2, Duration.ofMillis(100), clock)
        .forEach(i -> clock.now.addAndGet(30 * ms)); // the sink takes its time too
    // the sink's 30 ms per element count against the window: nobody waits 100 ms in full
    assertThat(clock.sleeps).allSatisfy(s -> assertThat(s).isLessThanOrEqualTo(100 * ms));
    assertThat(clock.sleeps.stream().mapToLong(Long::longValue).sum()).isLessThan(200 * ms);
  }

  @Test
  void throttleOnTheRealClockTakesAtLeastTheWindowsItNeeds() {
    long t0 = System.nanoTime();
    assertThat(Pipeline.from(range(12)).throttle(4, Duration.ofMillis(50)).toList())
        .isEqualTo(range(12));
    // 0-3 at once, 4-7 after 50 ms, 8-11 after 100 ms
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
  }

  @Test
  void cancelInterruptsAThrottleThatIsWaiting() throws Exception {
    RunHandle<Integer> h = Pipeline.from(range(10)).throttle(1, Duration.ofHours(1)).start(i -> {});
    sleep(50);
    long t0 = System.nanoTime();
    h.cancel();
    assertThatThrownBy(h::join).isInstanceOf(CancellationException.class);
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(1));
    assertThat(h.stats().stage("throttle").out()).isEqualTo(1);
  }

  @Test
  void throttleRejectsBadArguments() {
    assertThatThrownBy(() -> Pipeline.from(range(1)).throttle(0, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Pipeline.from(range(1)).throttle(1, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------ mapConcurrentPartitioned

  @Test
  void partitionedRunsAtMostNAtOnceAndOnePerKeyAndKeepsEachKeysOrder() {
    int n = 6;
    int keys = 10;
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger maxInFlight = new AtomicInteger();
    Map<Integer, AtomicInteger> perKey = new ConcurrentHashMap<>();
    AtomicInteger maxPerKey = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    AtomicInteger maxThreads = new AtomicInteger();
    List<Integer> out =
        Pipeline.from(range(600))
            .mapConcurrentPartitioned(
                n,
                i -> i % keys,
                i -> {
                  maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                  AtomicInteger k = perKey.computeIfAbsent(i % keys, x -> new AtomicInteger());
                  maxPerKey.accumulateAndGet(k.incrementAndGet(), Math::max);
                  maxThreads.accumulateAndGet(live.count(), Math::max);
                  try {
                    if ((i & 7) == 0) {
                      Thread.sleep(1);
                    }
                    return i;
                  } finally {
                    k.decrementAndGet();
                    inFlight.decrementAndGet();
                  }
                })
            .withListener(live)
            .toList();
    assertThat(out).hasSize(600).containsExactlyInAnyOrderElementsOf(range(600));
    Map<Integer, List<Integer>> byKey = new HashMap<>();
    for (int i : out) {
      byKey.computeIfAbsent(i % keys, x -> new ArrayList<>()).add(i);
    }
    for (List<Integer> l : byKey.values()) {
      assertThat(l).isSorted();
    }
    assertThat(maxInFlight.get()).isLessThanOrEqualTo(n).isGreaterThan(1);
    assertThat(maxPerKey.get()).isEqualTo(1);
    // source, dispatcher, sink, plus at most n workers
    assertThat(maxThreads.get()).isLessThanOrEqualTo(3 + n);
    assertThat(live.count()).isZero();
  }

  @Test
  void aHotKeyHoldsTheInputBackInsteadOfQueueingWithoutBound() throws Exception {
    AtomicInteger produced = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger otherKeyCalls = new AtomicInteger();
    RunHandle<Integer> h =
        counting(produced)
            .buffer(1)
            .mapConcurrentPartitioned(
                4,
                i -> i % 50 == 0 ? "other" + i : "hot",
                i -> {
                  if (i % 50 == 0) {
                    otherKeyCalls.incrementAndGet();
                    return i;
                  }
                  release.await();
                  return i;
                })
            .start(i -> {});
    try {
      sleep(200);
      // buffer 1 + the source's element in hand + the dispatcher's element + 4 waiting behind the
      // hot key + 1 in the hot call
      assertThat(produced.get()).as("elements taken from the source").isLessThanOrEqualTo(10);
    } finally {
      release.countDown();
      h.cancel();
      assertThatThrownBy(h::join).isInstanceOf(CancellationException.class);
    }
  }

  @Test
  void partitionedWithOneInFlightIsSequentialAndInOrder() {
    assertThat(
            Pipeline.from(range(200)).mapConcurrentPartitioned(1, i -> i % 3, i -> i + 1).toList())
        .isEqualTo(range(200).stream().map(i -> i + 1).toList());
    assertThat(
            Pipeline.from(List.<Integer>of()).mapConcurrentPartitioned(4, i -> i, i -> i).toList())
        .isEmpty();
  }

  @Test
  void aFailingKeyFunctionFailsTheRunAndNamesTheStage() {
    assertThatThrownBy(
            () ->
                Pipeline.from(range(100))
                    .mapConcurrentPartitioned(
                        4,
                        i -> {
                          if (i == 42) {
                            throw new IOException("no key for 42");
                          }
                          return i % 4;
                        },
                        i -> i)
                    .named("byUser")
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("byUser")
        .hasRootCauseMessage("no key for 42");
    assertThatThrownBy(
            () -> Pipeline.from(range(3)).mapConcurrentPartitioned(2, i -> null, i -> i).toList())
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("stage 'mapConcurrentPartitioned' key function returned null");
  }

  @Test
  void partitionedAppliesTheStagesErrorPolicy() {
    List<Integer> out =
        Pipeline.from(range(20))
            .mapConcurrentPartitioned(
                3,
                i -> i % 2,
                i -> {
                  if (i % 5 == 0) {
                    throw new IllegalStateException("skip me");
                  }
                  return i;
                })
            .onError(ErrorPolicy.skip())
            .toList();
    assertThat(out)
        .containsExactlyInAnyOrderElementsOf(range(20).stream().filter(i -> i % 5 != 0).toList());
  }

  @Test
  void cancelInterruptsPartitionedCallsInFlight() throws Exception {
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger started = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    RunHandle<Integer> h =
        Pipeline.generate(() -> 1)
            .map(i -> started.get())
            .mapConcurrentPartitioned(
                4,
                i -> i % 8,
                i -> {
                  started.incrementAndGet();
                  inFlight.incrementAndGet();
                  try {
                    sleepForever();
                    return i;
                  } finally {
                    inFlight.decrementAndGet();
                  }
                })
            .withListener(live)
            .start(i -> {});
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (started.get() < 1 && System.nanoTime() < deadline) {
      sleep(1);
    }
    h.cancel();
    Bounded.within(
        Duration.ofSeconds(5),
        () -> assertThatThrownBy(h::join).isInstanceOf(CancellationException.class));
    assertThat(inFlight.get()).isZero();
    assertThat(live.count()).isZero();
  }

  // ------------------------------------------------------------ alsoTo

  @Test
  void alsoToHandsEveryElementToTheSideSinkInOrder() {
    List<Integer> side = new CopyOnWriteArrayList<>();
    List<Integer> out = Pipeline.from(range(1000)).alsoTo(side::add).map(i -> i + 1).toList();
    assertThat(out).isEqualTo(range(1000).stream().map(i -> i + 1).toList());
    assertThat(side).isEqualTo(range(1000));
  }

  @Test
  void aFailingSideSinkFailsTheRun() {
    assertThatThrownBy(
            () ->
                Pipeline.from(range(1000))
                    .alsoTo(
                        i -> {
                          if (i == 500) {
                            throw new IOException("side sink broke");
                          }
                        })
                    .named("audit")
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("audit.side")
        .hasRootCauseMessage("side sink broke");
  }

  @Test
  void aSlowSideSinkHoldsTheMainOutputBack() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger mainSeen = new AtomicInteger();
    AtomicInteger produced = new AtomicInteger();
    RunHandle<Integer> h =
        counting(produced)
            .buffer(1)
            .alsoTo(i -> release.await())
            .buffer(1)
            .start(i -> mainSeen.incrementAndGet());
    try {
      sleep(200);
      assertThat(mainSeen.get()).as("main sink while the side sink is blocked").isLessThan(8);
      assertThat(produced.get()).isLessThan(12);
    } finally {
      release.countDown();
      h.cancel();
      assertThatThrownBy(h::join).isInstanceOf(CancellationException.class);
    }
  }

  // ------------------------------------------------------------ zip

  @Test
  void zipPairsElementsAndEndsWithTheShorterInput() {
    assertThat(
            Pipeline.from(List.of(1, 2, 3))
                .zip(Pipeline.from(List.of("a", "b", "c", "d")), (i, s) -> s + i)
                .toList())
        .containsExactly("a1", "b2", "c3");
    assertThat(
            Pipeline.from(range(5)).zip(Pipeline.from(List.<Integer>of()), Integer::sum).toList())
        .isEmpty();
  }

  @Test
  void zipWithAnEndlessSideStopsItAndEndsNormally() {
    AtomicInteger produced = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    Bounded.within(
        Duration.ofSeconds(10),
        () -> {
          List<String> out =
              Pipeline.from(List.of("x", "y"))
                  .zip(counting(produced).map(i -> i * 10), (s, i) -> s + i)
                  .withListener(live)
                  .toList();
          assertThat(out).containsExactly("x0", "y10");
          assertThat(live.count()).isZero();
          // and the other way round: the endless side on the left
          assertThat(
                  counting(new AtomicInteger()).zip(Pipeline.from(range(3)), Integer::sum).count())
              .isEqualTo(3);
        });
  }

  @Test
  void aThrowingZipFunctionFailsTheRun() {
    assertThatThrownBy(
            () ->
                Pipeline.from(range(10))
                    .zip(
                        Pipeline.from(range(10)),
                        (a, b) -> {
                          if (a == 7) {
                            throw new IllegalStateException("zip broke");
                          }
                          return a + b;
                        })
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("zip broke");
  }

  // ------------------------------------------------------------ timeoutEach

  @Test
  void aCallOverItsTimeoutIsInterruptedAndFailsTheRunWithTimeoutException() {
    AtomicBoolean interrupted = new AtomicBoolean();
    Bounded.within(
        Duration.ofSeconds(5),
        () ->
            assertThatThrownBy(
                    () ->
                        Pipeline.from(range(3))
                            .map(
                                i -> {
                                  try {
                                    sleepForever();
                                  } catch (InterruptedException e) {
                                    interrupted.set(true);
                                    throw e;
                                  }
                                  return i;
                                })
                            .timeoutEach(Duration.ofMillis(50))
                            .toList())
                .isInstanceOf(PipelineException.class)
                .hasMessageContaining("map")
                .cause()
                .isInstanceOf(TimeoutException.class)
                .hasMessageContaining("timeoutEach"));
    assertThat(interrupted).isTrue();
  }

  @Test
  void timedOutCallsGoToThePolicyAndTheInterruptDoesNotLeakIntoTheNextCall() {
    AtomicInteger enteredInterrupted = new AtomicInteger();
    List<Integer> out =
        Pipeline.from(range(20))
            .map(
                i -> {
                  if (Thread.currentThread().isInterrupted()) {
                    enteredInterrupted.incrementAndGet();
                  }
                  if (i % 4 == 0) {
                    sleepForever();
                  }
                  Thread.sleep(2); // fails if an interrupt leaked from the last call
                  return i;
                })
            .timeoutEach(Duration.ofMillis(30))
            .onError(ErrorPolicy.skip())
            .toList();
    assertThat(out).isEqualTo(range(20).stream().filter(i -> i % 4 != 0).toList());
    assertThat(enteredInterrupted.get()).isZero();
  }

  @Test
  void eachRetryOfATimedOutCallHasItsOwnTimeout() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    RunHandle<Integer> h =
        Pipeline.from(range(1))
            .mapConcurrent(
                2,
                i -> {
                  if (calls.incrementAndGet() < 3) {
                    sleepForever();
                  }
                  return i;
                })
            .timeoutEach(Duration.ofMillis(20))
            .onError(
                ErrorPolicy.retry(3, Duration.ZERO).retryOn(e -> e instanceof TimeoutException))
            .start(i -> {});
    h.join();
    assertThat(calls.get()).isEqualTo(3);
    assertThat(h.stats().stage("mapConcurrent").retried()).isEqualTo(2);
  }

  @Test
  void fastCallsAreNotAffectedByTimeoutEach() {
    assertThat(
            Pipeline.from(range(2000))
                .mapConcurrentPartitioned(8, i -> i % 16, i -> i)
                .timeoutEach(Duration.ofSeconds(10))
                .count())
        .isEqualTo(2000);
  }

  @Test
  void timeoutEachNeedsAStageWithAFunction() {
    assertThatThrownBy(() -> Pipeline.from(range(1)).timeoutEach(Duration.ofSeconds(1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("timeoutEach");
    assertThatThrownBy(() -> Pipeline.from(range(1)).map(i -> i).timeoutEach(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------ terminals

  @Test
  void foldAndCount() {
    assertThat(Pipeline.from(range(101)).fold(0L, (acc, i) -> acc + i)).isEqualTo(5050L);
    assertThat(Pipeline.from(List.<Integer>of()).fold("init", (acc, i) -> acc + i))
        .isEqualTo("init");
    assertThat(Pipeline.from(range(1234)).count()).isEqualTo(1234);
    assertThat(Pipeline.from(List.of()).count()).isZero();
    assertThat(Pipeline.generate(() -> 1).take(77).count()).isEqualTo(77);
  }

  @Test
  void aThrowingFoldFunctionFailsTheRun() {
    assertThatThrownBy(
            () ->
                Pipeline.from(range(10))
                    .fold(
                        0,
                        (acc, i) -> {
                          if (i == 3) {
                            throw new IllegalStateException("fold broke");
                          }
                          return acc + i;
                        }))
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("fold broke");
  }

  @Test
  void runToSendsEverythingThenClosesTheChannel() throws Exception {
    Channel<Integer> ch = Channel.buffered(4);
    RunHandle<Integer> h = Pipeline.from(range(500)).runTo(ch);
    List<Integer> got = new ArrayList<>();
    Bounded.within(
        Duration.ofSeconds(10),
        () -> {
          for (int v : ch) {
            got.add(v);
          }
        });
    h.join();
    assertThat(got).isEqualTo(range(500));
    assertThat(ch.isClosed()).isTrue();
  }

  @Test
  void runToFailsTheChannelWhenTheRunFails() throws Exception {
    Channel<Integer> ch = Channel.rendezvous();
    RunHandle<Integer> h =
        Pipeline.from(range(10))
            .map(
                i -> {
                  if (i == 5) {
                    throw new IOException("broke at 5");
                  }
                  return i;
                })
            .runTo(ch);
    List<Integer> got = new ArrayList<>();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Bounded.within(
        Duration.ofSeconds(10),
        () -> {
          try {
            while (true) {
              got.add(ch.receive());
            }
          } catch (ChannelClosedException e) {
            thrown.set(e);
          }
        });
    assertThatThrownBy(h::join).isInstanceOf(PipelineException.class);
    // the run failed fast: the reader saw a prefix (what the stop did not drop)
    assertThat(got).hasSizeLessThanOrEqualTo(5).isEqualTo(range(got.size()));
    assertThat(thrown.get())
        .isInstanceOf(ChannelClosedException.class)
        .cause()
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("broke at 5");
  }

  @Test
  void runToFailsTheChannelWhenTheRunIsCancelledEvenWhileASendIsBlocked() throws Exception {
    Channel<Integer> ch = Channel.buffered(1);
    RunHandle<Integer> h = Pipeline.generate(() -> 1).runTo(ch);
    sleep(50); // the run is blocked sending into the full channel
    h.cancel();
    Bounded.within(
        Duration.ofSeconds(5),
        () -> assertThatThrownBy(h::join).isInstanceOf(CancellationException.class));
    assertThatThrownBy(ch::receive)
        .isInstanceOf(ChannelClosedException.class)
        .cause()
        .isInstanceOf(CancellationException.class);
  }

  @Test
  void runToFailsTheChannelIfTheRunCannotStart() {
    Pipeline<Integer> once = Pipeline.from(List.of(1).iterator());
    once.toList();
    Channel<Integer> ch = Channel.buffered(1);
    assertThatThrownBy(() -> once.runTo(ch)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(ch::receive).isInstanceOf(ChannelClosedException.class);
  }

  // ------------------------------------------------------------ retryOn

  @Test
  void retryOnRetriesOnlyMatchingFailures() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    ErrorPolicy onlyIo = ErrorPolicy.retry(3, Duration.ZERO).retryOn(e -> e instanceof IOException);
    // a failure that does not match: no retry, the run fails after one call
    assertThatThrownBy(
            () ->
                Pipeline.from(range(1))
                    .map(
                        i -> {
                          calls.incrementAndGet();
                          throw new IllegalStateException("not retryable");
                        })
                    .onError(onlyIo)
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("not retryable");
    assertThat(calls.get()).isEqualTo(1);
    // a failure that matches: retried until the attempts run out
    calls.set(0);
    assertThatThrownBy(
            () ->
                Pipeline.from(range(1))
                    .map(
                        i -> {
                          calls.incrementAndGet();
                          throw new IOException("retryable");
                        })
                    .onError(onlyIo)
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("retryable");
    assertThat(calls.get()).isEqualTo(3);
  }

  @Test
  void aFailureRetryOnRejectsGoesStraightToTheFallback() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    List<Object> dead = new CopyOnWriteArrayList<>();
    RunHandle<Integer> h =
        Pipeline.from(range(4))
            .map(
                i -> {
                  calls.incrementAndGet();
                  if (i == 2) {
                    throw new IllegalArgumentException("bad input " + i);
                  }
                  return i;
                })
            .onError(
                ErrorPolicy.retry(5, Duration.ofSeconds(10))
                    .retryOn(e -> e instanceof IOException)
                    .orElse(ErrorPolicy.divert((item, e) -> dead.add(item))))
            .start(i -> {});
    Bounded.within(Duration.ofSeconds(5), h::join); // no 10 s backoff was waited
    assertThat(calls.get()).isEqualTo(4);
    assertThat(dead).containsExactly(2);
    StageStats st = h.stats().stage("map");
    assertThat(st.retried()).isZero();
    assertThat(st.diverted()).isEqualTo(1);
  }

  @Test
  void aSeriesStopsRetryingAtTheFirstFailureThatDoesNotMatch() {
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(
            () ->
                Pipeline.from(range(1))
                    .map(
                        i -> {
                          if (calls.incrementAndGet() == 1) {
                            throw new IOException("transient");
                          }
                          throw new IllegalStateException("permanent");
                        })
                    .onError(
                        ErrorPolicy.retry(5, Duration.ZERO).retryOn(e -> e instanceof IOException))
                    .toList())
        .isInstanceOf(PipelineException.class)
        .hasRootCauseMessage("permanent");
    assertThat(calls.get()).isEqualTo(2);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
