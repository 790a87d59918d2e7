package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Subscribe, request and cancel racing each other, seeded (the seed is printed; rerun with {@code
 * -Dmillrace.stress.seed=S}), {@code -Dmillrace.stress.iterations=N} iterations each (default 300).
 * Every iteration is bounded in time and checks: the run ends with all its threads once cancelled,
 * no rule of the spec is broken on the way (serial signals, no {@code onNext} beyond demand, at
 * most one terminal signal, none after cancel), and nothing is left subscribed.
 */
@Timeout(600)
@ExtendWith(NoLeakedRunThreads.class)
class FlowStressTest {

  private static final Duration LIMIT = Duration.ofSeconds(10);

  private static long seed(String test) {
    long seed = Long.getLong("millrace.stress.seed", System.nanoTime());
    System.out.println(test + ": seed " + seed + ", " + StressConfig.iterations() + " iterations");
    return seed;
  }

  private static void pause(SplittableRandom rnd) {
    int mode = rnd.nextInt(3);
    if (mode == 1) {
      Thread.onSpinWait();
    } else if (mode == 2) {
      LockSupport.parkNanos(rnd.nextLong(2_000_000));
    }
  }

  private static void awaitNoThreads(LiveRunThreads live, String where)
      throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (live.count() != 0) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            where
                + ": "
                + live.count()
                + " run threads left"
                + NoLeakedRunThreads.dumpRunThreads());
      }
      Thread.sleep(1);
    }
  }

  @Test
  void subscribeRequestAndCancelRacesLeaveNothingRunning() throws Exception {
    long seed = seed("toPublisher races");
    SplittableRandom rnd = new SplittableRandom(seed);
    int completed = 0;
    for (int it = 0; it < StressConfig.iterations(); it++) {
      long iterationSeed = rnd.nextLong();
      String where = "seed " + seed + ", iteration " + it;
      boolean[] done = new boolean[1];
      try {
        Bounded.within(
            Duration.ofSeconds(20),
            () -> done[0] = toPublisherRace(new SplittableRandom(iterationSeed), where));
      } catch (AssertionError e) {
        throw new AssertionError(where + ": " + e.getMessage(), e);
      }
      completed += done[0] ? 1 : 0;
    }
    System.out.println("toPublisher races: " + completed + " completed before the cancel");
  }

  /** {@return whether the run completed before it was cancelled} */
  private static boolean toPublisherRace(SplittableRandom rnd, String where) throws Exception {
    LiveRunThreads live = new LiveRunThreads();
    Pipeline<Integer> p =
        rnd.nextBoolean()
            ? Pipeline.from(IntStream.range(0, rnd.nextInt(2000)).boxed().toList())
            : Pipeline.generate(new AtomicInteger()::incrementAndGet);
    p = p.buffer(1 + rnd.nextInt(64));
    if (rnd.nextBoolean()) {
      p = p.mapConcurrent(1 + rnd.nextInt(4), x -> x);
    }
    long initial = rnd.nextInt(4) == 0 ? Long.MAX_VALUE : rnd.nextInt(100);
    int inNext = rnd.nextInt(3);
    boolean cancelInOnSubscribe = rnd.nextInt(10) == 0;
    RecordingSubscriber<Integer> sub =
        new RecordingSubscriber<>(
            initial,
            (s, x) -> {
              if (inNext > 0) {
                s.request(inNext);
              }
            });
    Flow.Subscriber<Integer> subscriber =
        cancelInOnSubscribe
            ? new Flow.Subscriber<>() {
              @Override
              public void onSubscribe(Flow.Subscription s) {
                sub.onSubscribe(s);
                sub.cancel();
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
            }
            : sub;
    long pauseSeed = rnd.nextLong();
    Thread requester =
        Thread.ofPlatform()
            .start(
                () -> {
                  SplittableRandom r = new SplittableRandom(pauseSeed);
                  try {
                    sub.awaitSubscribed();
                  } catch (InterruptedException e) {
                    return;
                  }
                  for (int i = 0; i < 20; i++) {
                    sub.request(1 + r.nextInt(50));
                    pause(r);
                  }
                });
    p.withListener(live).toPublisher().subscribe(subscriber);
    pause(rnd);
    sub.cancel();
    requester.join(LIMIT.toMillis());
    awaitNoThreads(live, where);
    int atEnd = sub.size();
    assertThat(sub.violations()).as(where).isEmpty();
    assertThat(sub.onNextAfterCancel.get()).as(where).isLessThanOrEqualTo(1);
    assertThat(sub.error.get()).as(where + ": a cancel is no error").isNull();
    Thread.sleep(rnd.nextInt(3));
    assertThat(sub.size()).as(where + ": nothing after the run ended").isEqualTo(atEnd);
    return sub.completions.get() == 1;
  }

  @Test
  void cancellingRunsFedBySubmissionPublishersAtRandomMomentsLeavesNothingSubscribed()
      throws Exception {
    long seed = seed("from(SubmissionPublisher) races");
    SplittableRandom rnd = new SplittableRandom(seed);
    try (ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int it = 0; it < StressConfig.iterations(); it++) {
        long iterationSeed = rnd.nextLong();
        String where = "seed " + seed + ", iteration " + it;
        try {
          Bounded.within(
              Duration.ofSeconds(20),
              () -> fromPublisherRace(new SplittableRandom(iterationSeed), executor, where));
        } catch (AssertionError e) {
          throw new AssertionError(where + ": " + e.getMessage(), e);
        }
      }
    }
  }

  private static void fromPublisherRace(
      SplittableRandom rnd, ExecutorService executor, String where) throws Exception {
    LiveRunThreads live = new LiveRunThreads();
    FlowInteropTest.Recorded recorded = new FlowInteropTest.Recorded();
    try (SubmissionPublisher<Integer> pub =
        new SubmissionPublisher<>(executor, 1 << rnd.nextInt(6))) {
      Pipeline<Integer> p = Pipeline.from(recorded.wrap(pub)).buffer(1 + rnd.nextInt(64));
      if (rnd.nextBoolean()) {
        p = p.mapConcurrent(1 + rnd.nextInt(4), x -> x);
      }
      RunHandle<Integer> run = p.withListener(live).start(x -> {});
      Thread producer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      for (int i = 0;
                          !Thread.currentThread().isInterrupted()
                              && pub.offer(i, 100, TimeUnit.MILLISECONDS, (s, x) -> false) >= 0;
                          i++) {
                        // offer until interrupted or closed
                      }
                    } catch (IllegalStateException closed) {
                      // the publisher was closed
                    }
                  });
      LockSupport.parkNanos(rnd.nextLong(3_000_000));
      run.cancel();
      try {
        run.join();
      } catch (CancellationException expected) {
        // the usual end; a run that had not subscribed yet ends the same way
      }
      awaitNoThreads(live, where);
      producer.interrupt();
      producer.join(LIMIT.toMillis());
      assertThat(recorded.cancels.get()).as(where).isLessThanOrEqualTo(1);
      long deadline = System.nanoTime() + LIMIT.toNanos();
      while (pub.getNumberOfSubscribers() != 0 && System.nanoTime() < deadline) {
        Thread.sleep(1);
      }
      assertThat(pub.getNumberOfSubscribers()).as(where + ": still subscribed").isZero();
      // every call from the source's thread, except the cancel of a subscription that arrived
      // after the run ended, which is then the only call on it
      boolean allFromTheRun = recorded.callers.stream().allMatch(t -> t.startsWith("millrace-"));
      boolean lateAndOnlyCancelled = recorded.requests.isEmpty() && recorded.cancels.get() == 1;
      assertThat(allFromTheRun || lateAndOnlyCancelled)
          .as(where + ": calls from " + recorded.callers + ", requests " + recorded.requests)
          .isTrue();
    }
  }
}
