package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Pipeline#toPublisher()} and {@link Pipeline#from(Flow.Publisher)} beyond the TCK: with the
 * JDK's own {@link SubmissionPublisher}, round trips, back-pressure and memory bounds, cancellation
 * that leaves nothing running, failures, and publishers that break the spec.
 */
@Timeout(60)
@ExtendWith(NoLeakedRunThreads.class)
class FlowInteropTest {

  private static final Duration LIMIT = Duration.ofSeconds(10);
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

  @AfterEach
  void closeExecutor() {
    executor.shutdownNow();
  }

  private static List<Integer> range(int n) {
    return IntStream.range(0, n).boxed().toList();
  }

  /** Waits until {@code live} counts no thread: the runs it saw have ended. */
  private static void awaitNoThreads(LiveRunThreads live) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (live.count() != 0) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            live.count() + " run threads still running" + NoLeakedRunThreads.dumpRunThreads());
      }
      Thread.sleep(1);
    }
  }

  // ------------------------------------------------------------------ toPublisher

  @Test
  void toPublisherEmitsEveryElementInOrderThenCompletes() throws Exception {
    RecordingSubscriber<Integer> sub =
        new RecordingSubscriber<>(7, (s, x) -> s.request(x % 7 == 6 ? 7 : 1));
    Pipeline.from(range(10_000)).mapConcurrent(4, x -> x).toPublisher().subscribe(sub);
    sub.awaitTerminal(LIMIT);
    assertThat(sub.received).isEqualTo(range(10_000));
    assertThat(sub.completions).hasValue(1);
    assertThat(sub.error).hasValue(null);
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void noElementIsEmittedBeyondDemandAndTheSourceIsHeldBack() throws Exception {
    AtomicLong generated = new AtomicLong();
    LiveRunThreads live = new LiveRunThreads();
    RecordingSubscriber<Long> sub = new RecordingSubscriber<>(5);
    Pipeline.generate(generated::incrementAndGet)
        .buffer(16)
        .map(x -> x)
        .buffer(16)
        .withListener(live)
        .toPublisher()
        .subscribe(sub);
    sub.awaitReceived(5, LIMIT);
    Thread.sleep(200); // the run had time to run ahead: it may fill its buffers, no more
    assertThat(sub.size()).isEqualTo(5);
    long heldAt = generated.get();
    // buffers 16 + 16, the map's chunk in and out 16 + 16, the sink's chunk 16, one in hand each
    assertThat(heldAt).isLessThanOrEqualTo(5 + 5 * 16 + 3);
    Thread.sleep(100);
    assertThat(generated.get()).as("the source is held back").isEqualTo(heldAt);

    sub.request(3);
    sub.awaitReceived(8, LIMIT);
    Thread.sleep(50);
    assertThat(sub.size()).isEqualTo(8);
    assertThat(sub.received).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L);
    sub.cancel();
    awaitNoThreads(live);
    assertThat(sub.violations()).isEmpty();
    assertThat(sub.terminated.getCount()).as("no terminal signal after cancel").isEqualTo(1);
  }

  @Test
  void aSlowSubscriberBoundsMemory() throws Exception {
    AtomicLong generated = new AtomicLong();
    AtomicLong maxLag = new AtomicLong();
    LiveRunThreads live = new LiveRunThreads();
    CountDownLatch enough = new CountDownLatch(1);
    RecordingSubscriber<byte[]> sub =
        new RecordingSubscriber<>(
            1,
            (s, x) -> {
              maxLag.accumulateAndGet(generated.get() - s.size(), Math::max);
              try {
                Thread.sleep(1); // slow: one element per millisecond at best
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              if (s.size() == 300) {
                enough.countDown();
              } else {
                s.request(1);
              }
            });
    Pipeline.generate(
            () -> {
              generated.incrementAndGet();
              return new byte[1024];
            })
        .mapConcurrent(4, x -> x)
        .withListener(live)
        .toPublisher()
        .subscribe(sub);
    assertThat(enough.await(LIMIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
    sub.cancel();
    awaitNoThreads(live);
    // what the run may hold: two buffers of 256, 4 calls, chunks of 64 in and out of each stage
    long bound = 2 * Pipeline.DEFAULT_BUFFER_CAPACITY + 4 + 5 * Pipeline.CHUNK;
    assertThat(maxLag.get()).isPositive().isLessThanOrEqualTo(bound);
    assertThat(generated.get()).isLessThanOrEqualTo(300 + bound);
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void cancelMidStreamEndsTheRunAndAllItsThreads() throws Exception {
    LiveRunThreads live = new LiveRunThreads();
    AtomicInteger n = new AtomicInteger();
    RecordingSubscriber<Integer> sub = new RecordingSubscriber<>(Long.MAX_VALUE);
    Pipeline.generate(n::incrementAndGet)
        .mapConcurrent(
            4,
            x -> {
              Thread.sleep(1);
              return x;
            })
        .withListener(live)
        .toPublisher()
        .subscribe(sub);
    sub.awaitReceived(50, LIMIT);
    assertThat(live.count()).isPositive();
    sub.cancel();
    awaitNoThreads(live);
    int atEnd = sub.size();
    Thread.sleep(50);
    assertThat(sub.size()).isEqualTo(atEnd);
    assertThat(sub.onNextAfterCancel.get()).isLessThanOrEqualTo(1); // one may have been under way
    assertThat(sub.terminated.getCount()).as("no terminal signal after cancel").isEqualTo(1);
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void cancelFromWithinOnNextStopsAtOnce() throws Exception {
    LiveRunThreads live = new LiveRunThreads();
    RecordingSubscriber<Integer> sub =
        new RecordingSubscriber<>(
            100,
            (s, x) -> {
              if (s.size() == 10) {
                s.cancel();
              }
            });
    Pipeline.from(range(1000)).map(x -> x).withListener(live).toPublisher().subscribe(sub);
    sub.awaitReceived(10, LIMIT);
    awaitNoThreads(live);
    assertThat(sub.received).isEqualTo(range(10));
    assertThat(sub.terminated.getCount()).isEqualTo(1);
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void requestFromWithinOnNextDoesNotRecurse() throws Exception {
    AtomicInteger depth = new AtomicInteger();
    AtomicInteger maxDepth = new AtomicInteger();
    RecordingSubscriber<Integer> sub =
        new RecordingSubscriber<>(
            1,
            (s, x) -> {
              maxDepth.accumulateAndGet(depth.incrementAndGet(), Math::max);
              s.request(1);
              depth.decrementAndGet();
            });
    Pipeline.from(range(2000)).toPublisher().subscribe(sub);
    sub.awaitTerminal(LIMIT);
    assertThat(sub.received).isEqualTo(range(2000));
    assertThat(maxDepth).hasValue(1);
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void unboundedDemandSurvivesRequestsThatAddUpPastLongMaxValue() throws Exception {
    RecordingSubscriber<Integer> sub =
        new RecordingSubscriber<>(Long.MAX_VALUE - 1, (s, x) -> s.request(Long.MAX_VALUE));
    Pipeline.from(range(5000)).toPublisher().subscribe(sub);
    sub.awaitTerminal(LIMIT);
    assertThat(sub.received).isEqualTo(range(5000));
    assertThat(sub.error).hasValue(null);
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void aRunFailureIsSignalledAsOnErrorWithThePipelineException() throws Exception {
    IllegalStateException boom = new IllegalStateException("boom");
    RecordingSubscriber<Integer> sub = new RecordingSubscriber<>(Long.MAX_VALUE);
    Pipeline.from(range(100))
        .map(
            x -> {
              if (x == 5) {
                throw boom;
              }
              return x;
            })
        .named("explode")
        .toPublisher()
        .subscribe(sub);
    sub.awaitTerminal(LIMIT);
    assertThat(sub.error.get())
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("explode")
        .hasCause(boom);
    assertThat(sub.size()).isLessThanOrEqualTo(5);
    assertThat(sub.received).isEqualTo(range(sub.size())); // a prefix of the output
    assertThat(sub.completions).hasValue(0);
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void aDeadlineIsSignalledAsOnErrorWithACancellationException() throws Exception {
    RecordingSubscriber<Integer> sub = new RecordingSubscriber<>(Long.MAX_VALUE);
    Pipeline.generate(
            () -> {
              Thread.sleep(5);
              return 1;
            })
        .withTimeout(Duration.ofMillis(100))
        .toPublisher()
        .subscribe(sub);
    sub.awaitTerminal(LIMIT);
    assertThat(sub.error.get())
        .isInstanceOf(CancellationException.class)
        .hasMessageContaining("timed out");
    assertThat(sub.violations()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(longs = {0, -1, Long.MIN_VALUE})
  void aNonPositiveRequestSignalsIllegalArgumentExceptionAndEndsTheRun(long n) throws Exception {
    LiveRunThreads live = new LiveRunThreads();
    RecordingSubscriber<Integer> sub = new RecordingSubscriber<>(3);
    Pipeline.generate(() -> 1).withListener(live).toPublisher().subscribe(sub);
    sub.awaitReceived(3, LIMIT);
    sub.request(n);
    sub.awaitTerminal(LIMIT);
    assertThat(sub.error.get())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("3.9");
    awaitNoThreads(live);
    assertThat(sub.size()).isEqualTo(3);
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void aNonPositiveRequestInOnSubscribeSignalsIllegalArgumentExceptionWithoutARun() {
    LiveRunThreads live = new LiveRunThreads();
    RecordingSubscriber<Integer> sub = new RecordingSubscriber<>(0);
    Flow.Subscriber<Integer> requestsZero =
        new Flow.Subscriber<>() {
          @Override
          public void onSubscribe(Flow.Subscription s) {
            sub.onSubscribe(s);
            s.request(0);
          }

          @Override
          public void onNext(Integer item) {
            sub.onNext(item);
          }

          @Override
          public void onError(Throwable t) {
            sub.onError(t);
          }

          @Override
          public void onComplete() {
            sub.onComplete();
          }
        };
    Pipeline.from(range(10)).withListener(live).toPublisher().subscribe(requestsZero);
    // signalled on the subscribing thread, after onSubscribe returned
    assertThat(sub.error.get()).isInstanceOf(IllegalArgumentException.class);
    assertThat(live.count()).isZero();
    assertThat(sub.violations()).isEmpty();
  }

  @Test
  void eachSubscriptionIsAFreshRunOfThePipeline() throws Exception {
    TrackedRuns runs = new TrackedRuns();
    Flow.Publisher<Integer> pub = Pipeline.from(range(100)).withListener(runs).toPublisher();
    RecordingSubscriber<Integer> a = new RecordingSubscriber<>(Long.MAX_VALUE);
    RecordingSubscriber<Integer> b = new RecordingSubscriber<>(Long.MAX_VALUE);
    pub.subscribe(a);
    pub.subscribe(b);
    a.awaitTerminal(LIMIT);
    b.awaitTerminal(LIMIT);
    assertThat(a.received).isEqualTo(range(100)).isEqualTo(b.received);
    assertThat(runs.started()).isEqualTo(2);
  }

  @Test
  void aOneShotSourceSignalsOnErrorToItsSecondSubscriber() throws Exception {
    Flow.Publisher<Integer> pub = Pipeline.from(Stream.of(1, 2, 3)).toPublisher();
    RecordingSubscriber<Integer> first = new RecordingSubscriber<>(Long.MAX_VALUE);
    pub.subscribe(first);
    first.awaitTerminal(LIMIT);
    assertThat(first.received).containsExactly(1, 2, 3);
    RecordingSubscriber<Integer> second = new RecordingSubscriber<>(Long.MAX_VALUE);
    pub.subscribe(second);
    second.awaitTerminal(LIMIT);
    assertThat(second.error.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("only once");
    assertThat(second.violations()).isEmpty();
  }

  @Test
  void aSubscriberThatThrowsFromOnNextIsCancelledAndItsExceptionReported() throws Exception {
    LiveRunThreads live = new LiveRunThreads();
    Queue<Throwable> reported = new ConcurrentLinkedQueue<>();
    Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
    try {
      IllegalStateException bad = new IllegalStateException("subscriber bug");
      RecordingSubscriber<Integer> sub =
          new RecordingSubscriber<>(
              Long.MAX_VALUE,
              (s, x) -> {
                if (x == 3) {
                  throw bad;
                }
              });
      Pipeline.from(range(1000)).withListener(live).toPublisher().subscribe(sub);
      awaitNoThreads(live);
      long deadline = System.nanoTime() + LIMIT.toNanos();
      while (reported.isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(1);
      }
      assertThat(reported).containsExactly(bad);
      assertThat(sub.received).containsExactly(0, 1, 2, 3);
      assertThat(sub.terminated.getCount()).as("no signal after it threw").isEqualTo(1);
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(before);
    }
  }

  @Test
  void aSubscriberThatSwallowsTheStopsInterruptStillLetsTheRunEnd() throws Exception {
    LiveRunThreads live = new LiveRunThreads();
    RecordingSubscriber<Integer> sub =
        new RecordingSubscriber<>(
            1,
            (s, x) -> {
              try {
                Thread.sleep(500); // the run fails meanwhile; its interrupt lands here
              } catch (InterruptedException swallowed) {
                // and is swallowed: the sink must not then wait for demand for ever
              }
            });
    Pipeline<Integer> failsSoon =
        Pipeline.generate(
            () -> {
              Thread.sleep(100);
              throw new IllegalStateException("planned");
            });
    Pipeline.merge(Pipeline.generate(() -> 1), failsSoon)
        .withListener(live)
        .toPublisher()
        .subscribe(sub);
    sub.awaitTerminal(LIMIT);
    assertThat(sub.error.get()).isInstanceOf(PipelineException.class);
    awaitNoThreads(live);
    assertThat(sub.size()).isEqualTo(1);
    assertThat(sub.violations()).isEmpty();
  }

  // ------------------------------------------------------------------ from(Flow.Publisher)

  @Test
  void aSubmissionPublisherFeedsAPipelineWithBackPressure() throws Exception {
    try (SubmissionPublisher<Integer> pub = new SubmissionPublisher<>(executor, 8)) {
      RunHandle<Integer> run;
      List<Integer> out = new ArrayList<>();
      run = Pipeline.from(pub).mapConcurrent(4, x -> x * 2).start(out::add);
      awaitSubscribers(pub, 1);
      for (int i = 0; i < 20_000; i++) {
        pub.submit(i); // blocks while the subscriber's 8 slots are full: back-pressure
      }
      pub.close();
      assertThat(run.join(LIMIT)).isTrue();
      assertThat(out).isEqualTo(range(20_000).stream().map(x -> x * 2).toList());
    }
  }

  @Test
  void demandIsBoundedByTheBufferAfterTheSource() throws Exception {
    Recorded recorded = new Recorded();
    AtomicLong maxOutstanding = new AtomicLong();
    AtomicLong seen = new AtomicLong();
    try (SubmissionPublisher<Integer> pub = new SubmissionPublisher<>(executor, 4)) {
      RunHandle<Integer> run =
          Pipeline.from(recorded.wrap(pub))
              .buffer(16)
              .start(
                  x -> {
                    // requested but not yet here: the source's queue, the buffer, the sink's chunk
                    maxOutstanding.accumulateAndGet(
                        recorded.requested.get() - seen.incrementAndGet(), Math::max);
                    Thread.sleep(1);
                  });
      awaitSubscribers(pub, 1);
      for (int i = 0; i < 300; i++) {
        pub.submit(i);
      }
      pub.close();
      assertThat(run.join(LIMIT)).isTrue();
    }
    assertThat(seen).hasValue(300);
    assertThat(recorded.requests).allMatch(n -> n >= 1 && n <= 16);
    assertThat(maxOutstanding.get()).isLessThanOrEqualTo(16 + 16 + 16);
    assertThat(recorded.cancels).hasValue(0); // the publisher ended it: no cancel (rule 2.4)
    assertThat(recorded.callers).allMatch(t -> t.startsWith("millrace-"));
  }

  @Test
  void cancellingTheRunCancelsTheSubscription() throws Exception {
    Recorded recorded = new Recorded();
    LiveRunThreads live = new LiveRunThreads();
    try (SubmissionPublisher<Integer> pub = new SubmissionPublisher<>(executor, 8)) {
      AtomicInteger got = new AtomicInteger();
      RunHandle<Integer> run =
          Pipeline.from(recorded.wrap(pub))
              .map(x -> x)
              .withListener(live)
              .start(x -> got.incrementAndGet());
      awaitSubscribers(pub, 1);
      Thread producer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    for (int i = 0; pub.offer(i, 1, TimeUnit.SECONDS, (s, x) -> false) >= 0; i++) {
                      if (Thread.currentThread().isInterrupted()) {
                        return;
                      }
                    }
                  });
      while (got.get() < 100) {
        Thread.sleep(1);
      }
      run.cancel();
      assertThatThrownBy(run::join).isInstanceOf(CancellationException.class);
      awaitNoThreads(live);
      assertThat(recorded.cancels).hasValue(1);
      assertThat(recorded.callers).allMatch(t -> t.startsWith("millrace-"));
      awaitSubscribers(pub, 0);
      producer.interrupt();
      producer.join(LIMIT.toMillis());
    }
  }

  @Test
  void onErrorFailsTheRunWithThatCause() throws Exception {
    IllegalStateException cause = new IllegalStateException("upstream broke");
    try (SubmissionPublisher<Integer> pub = new SubmissionPublisher<>(executor, 8)) {
      RunHandle<Integer> run = Pipeline.from(pub).map(x -> x).start(x -> {});
      awaitSubscribers(pub, 1);
      pub.submit(1);
      pub.closeExceptionally(cause);
      assertThatThrownBy(run::join)
          .isInstanceOf(PipelineException.class)
          .hasMessageContaining("source")
          .hasCause(cause);
    }
  }

  @Test
  void eachRunSubscribesAfresh() throws Exception {
    AtomicInteger subscribes = new AtomicInteger();
    Flow.Publisher<Integer> pub =
        s -> {
          subscribes.incrementAndGet();
          Pipeline.from(range(10)).toPublisher().subscribe(s);
        };
    Pipeline<Integer> p = Pipeline.from(pub).map(x -> x + 1);
    assertThat(p.toList()).isEqualTo(p.toList()).isEqualTo(range(11).subList(1, 11));
    assertThat(subscribes).hasValue(2);
  }

  @Test
  void aRoundTripThroughPublishersLosesAndDuplicatesNothing() {
    Flow.Publisher<Integer> inner =
        Pipeline.from(range(100_000)).mapConcurrentUnordered(8, x -> x).toPublisher();
    List<Integer> out = Pipeline.from(inner).buffer(32).mapConcurrent(4, x -> x).toList();
    assertThat(out).hasSize(100_000);
    assertThat(out.stream().distinct().count()).isEqualTo(100_000);
    assertThat(out.stream().sorted().toList()).isEqualTo(range(100_000));
  }

  @Test
  void aPublisherThatSendsMoreThanRequestedFailsTheRunAndIsCancelled() {
    AtomicBoolean cancelled = new AtomicBoolean();
    Flow.Publisher<Integer> greedy =
        s ->
            s.onSubscribe(
                new Flow.Subscription() {
                  @Override
                  public void request(long n) {
                    for (long i = 0; i <= Math.min(n, 1000) && !cancelled.get(); i++) {
                      s.onNext((int) i); // one more than asked
                    }
                  }

                  @Override
                  public void cancel() {
                    cancelled.set(true);
                  }
                });
    assertThatThrownBy(() -> Pipeline.from(greedy).toList())
        .isInstanceOf(PipelineException.class)
        .cause()
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("rule 1.1");
    assertThat(cancelled).isTrue();
  }

  @Test
  void aSecondOnSubscribeIsCancelledAndNeverRequested() {
    AtomicInteger secondCalls = new AtomicInteger();
    AtomicBoolean secondCancelled = new AtomicBoolean();
    Flow.Publisher<Integer> twice =
        s -> {
          Pipeline.from(range(50)).toPublisher().subscribe(s);
          s.onSubscribe(
              new Flow.Subscription() {
                @Override
                public void request(long n) {
                  secondCalls.incrementAndGet();
                }

                @Override
                public void cancel() {
                  secondCancelled.set(true);
                }
              });
        };
    assertThat(Pipeline.from(twice).toList()).isEqualTo(range(50));
    assertThat(secondCancelled).isTrue();
    assertThat(secondCalls).hasValue(0);
  }

  @Test
  void aNullElementThrowsNullPointerExceptionAndFailsTheRun() {
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Flow.Publisher<Integer> sendsNull =
        s ->
            s.onSubscribe(
                new Flow.Subscription() {
                  @Override
                  public void request(long n) {
                    try {
                      s.onNext(null);
                    } catch (Throwable e) {
                      thrown.set(e);
                    }
                  }

                  @Override
                  public void cancel() {}
                });
    assertThatThrownBy(() -> Pipeline.from(sendsNull).toList())
        .isInstanceOf(PipelineException.class)
        .cause()
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("rule 2.13");
    assertThat(thrown.get()).isInstanceOf(NullPointerException.class);
  }

  @Test
  void aPublisherWhoseSubscribeThrowsFailsTheRun() {
    IllegalStateException e = new IllegalStateException("cannot subscribe");
    Flow.Publisher<Integer> broken =
        s -> {
          throw e;
        };
    assertThatThrownBy(() -> Pipeline.from(broken).toList())
        .isInstanceOf(PipelineException.class)
        .hasCause(e);
  }

  @Test
  void aRunCancelledBeforeTheSubscriptionArrivesCancelsItWhenItDoes() throws Exception {
    AtomicReference<Flow.Subscriber<? super Integer>> held = new AtomicReference<>();
    Flow.Publisher<Integer> late = held::set; // calls onSubscribe later, from another thread
    RunHandle<Integer> run = Pipeline.from(late).start(x -> {});
    while (held.get() == null) {
      Thread.sleep(1);
    }
    run.cancel();
    assertThatThrownBy(run::join).isInstanceOf(CancellationException.class);
    AtomicBoolean cancelled = new AtomicBoolean();
    AtomicInteger requests = new AtomicInteger();
    held.get()
        .onSubscribe(
            new Flow.Subscription() {
              @Override
              public void request(long n) {
                requests.incrementAndGet();
              }

              @Override
              public void cancel() {
                cancelled.set(true);
              }
            });
    assertThat(cancelled).isTrue();
    assertThat(requests).hasValue(0);
  }

  @Test
  void aPublisherThatSwallowsTheStopsInterruptStillLetsTheRunEnd() throws Exception {
    LiveRunThreads live = new LiveRunThreads();
    AtomicBoolean cancelled = new AtomicBoolean();
    Flow.Publisher<Integer> swallows =
        s ->
            s.onSubscribe(
                new Flow.Subscription() {
                  @Override
                  public void request(long n) {
                    try {
                      Thread.sleep(500); // on the source's thread; the run fails meanwhile
                    } catch (InterruptedException swallowed) {
                      // swallowed: the source must not then wait for elements for ever
                    }
                  }

                  @Override
                  public void cancel() {
                    cancelled.set(true);
                  }
                });
    Pipeline<Integer> failsSoon =
        Pipeline.generate(
            () -> {
              Thread.sleep(100);
              throw new IllegalStateException("planned");
            });
    RunHandle<Integer> run =
        Pipeline.merge(Pipeline.from(swallows), failsSoon).withListener(live).start(x -> {});
    assertThatThrownBy(() -> assertThat(run.join(LIMIT)).as("ended in time").isTrue())
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("generate");
    awaitNoThreads(live);
    assertThat(cancelled).isTrue();
  }

  // ------------------------------------------------------------------ helpers

  private static void awaitSubscribers(SubmissionPublisher<?> pub, int n)
      throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (pub.getNumberOfSubscribers() != n) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(pub.getNumberOfSubscribers() + " subscribers, not " + n);
      }
      Thread.sleep(1);
    }
  }

  /** Wraps a publisher's subscriptions to record every request and cancel, and who made it. */
  static final class Recorded {
    final Queue<Long> requests = new ConcurrentLinkedQueue<>();
    final AtomicLong requested = new AtomicLong();
    final AtomicInteger cancels = new AtomicInteger();
    final Queue<String> callers = new ConcurrentLinkedQueue<>();

    <T> Flow.Publisher<T> wrap(Flow.Publisher<T> pub) {
      return s ->
          pub.subscribe(
              new Flow.Subscriber<T>() {
                @Override
                public void onSubscribe(Flow.Subscription subscription) {
                  s.onSubscribe(
                      new Flow.Subscription() {
                        @Override
                        public void request(long n) {
                          callers.add(Thread.currentThread().getName());
                          requests.add(n);
                          requested.addAndGet(n);
                          subscription.request(n);
                        }

                        @Override
                        public void cancel() {
                          callers.add(Thread.currentThread().getName());
                          cancels.incrementAndGet();
                          subscription.cancel();
                        }
                      });
                }

                @Override
                public void onNext(T item) {
                  s.onNext(item);
                }

                @Override
                public void onError(Throwable t) {
                  s.onError(t);
                }

                @Override
                public void onComplete() {
                  s.onComplete();
                }
              });
    }
  }
}
