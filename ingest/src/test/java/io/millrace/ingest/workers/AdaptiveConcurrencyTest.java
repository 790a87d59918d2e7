package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.workers.AdaptiveConcurrency.Reason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class AdaptiveConcurrencyTest {
  private static final long MS = 1_000_000L;

  /** What the simulated store answers a request that finds {@code inFlight} requests in it. */
  record Answer(long latencyNanos, UploadOutcome outcome) {}

  /**
   * A discrete-event simulation on a fake clock: a client with endless work keeps every permit
   * busy; each request's latency and outcome come from the store model when it starts.
   */
  static final class Simulation {
    final AtomicLong now = new AtomicLong(1_000 * MS);
    final List<int[]> changes = new CopyOnWriteArrayList<>(); // from, to
    final AdaptiveConcurrency ac;
    private final PriorityQueue<long[]> done =
        new PriorityQueue<>((a, b) -> Long.compare(a[0], b[0]));
    int inFlight;
    long completed;
    int maxInFlight;

    Simulation(int ceiling, int initial) {
      ac =
          AdaptiveConcurrency.builder(ceiling)
              .initial(initial)
              .clock(now::get)
              .listener((from, to, reason) -> changes.add(new int[] {from, to}))
              .build();
    }

    /** Runs for {@code simulated} time; returns the limit sampled at each completion. */
    List<Integer> run(Duration simulated, IntFunction<Answer> store) throws InterruptedException {
      long end = now.get() + simulated.toNanos();
      List<Integer> limits = new ArrayList<>();
      while (now.get() < end) {
        while (ac.tryAcquire(Duration.ZERO)) {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          Answer a = store.apply(inFlight);
          done.add(
              new long[] {now.get() + a.latencyNanos(), a.latencyNanos(), a.outcome().ordinal()});
        }
        long[] next = done.poll();
        now.set(Math.max(now.get(), next[0]));
        inFlight--;
        completed++;
        ac.release(next[1], UploadOutcome.values()[(int) next[2]]);
        limits.add(ac.limit());
      }
      return limits;
    }
  }

  static IntFunction<Answer> flat(long latencyMs) {
    return n -> new Answer(latencyMs * MS, UploadOutcome.OK);
  }

  @Test
  void growsToTheCeilingWhileLatencyStaysFlatAndNeverPassesIt() throws Exception {
    Simulation sim = new Simulation(64, 1);
    sim.run(Duration.ofSeconds(3), flat(10));
    assertThat(sim.ac.limit()).isEqualTo(64);
    sim.run(Duration.ofSeconds(5), flat(10));
    assertThat(sim.ac.limit()).isEqualTo(64);
    assertThat(sim.maxInFlight).isEqualTo(64);
    assertThat(sim.changes).allSatisfy(c -> assertThat(c[1]).isBetween(1, 64));
  }

  @Test
  void risingLatencyCutsTheLimitWithinSecondsAndRecoveryClimbsBack() throws Exception {
    Simulation sim = new Simulation(64, 64);
    sim.run(Duration.ofSeconds(2), flat(10));
    assertThat(sim.ac.limit()).isEqualTo(64);

    sim.run(Duration.ofSeconds(2), flat(200)); // the store slows down 20x
    assertThat(sim.ac.limit()).isLessThanOrEqualTo(16);

    sim.run(Duration.ofSeconds(2), flat(10)); // and recovers
    assertThat(sim.ac.limit()).isEqualTo(64);
    assertThat(sim.changes).allSatisfy(c -> assertThat(c[1]).isBetween(1, 64));
  }

  @Test
  void aStoreThatStaysSlowBecomesTheNewNormalAfterTheFloorHorizon() throws Exception {
    Simulation sim = new Simulation(32, 32);
    sim.run(Duration.ofSeconds(1), flat(5));
    sim.run(Duration.ofSeconds(3), flat(50));
    assertThat(sim.ac.limit()).isLessThanOrEqualTo(8);
    // latency flat at 50 ms for longer than the 10 s horizon: more concurrency is more throughput
    sim.run(Duration.ofSeconds(20), flat(50));
    assertThat(sim.ac.limit()).isEqualTo(32);
  }

  @Test
  void settlesNearTheStoresCapacityWhenLatencyGrowsWithLoad() throws Exception {
    // 8 slots of 10 ms each: beyond 8 in flight, requests queue and latency grows linearly
    Simulation sim = new Simulation(64, 1);
    IntFunction<Answer> store = n -> new Answer(10 * MS * Math.max(8, n) / 8, UploadOutcome.OK);
    sim.run(Duration.ofSeconds(5), store);
    long before = sim.completed;
    List<Integer> limits = sim.run(Duration.ofSeconds(20), store);
    double throughput = (sim.completed - before) / 20.0;
    assertThat(throughput).isGreaterThan(0.8 * 800); // capacity is 800/s
    double mean = limits.stream().mapToInt(Integer::intValue).average().orElseThrow();
    assertThat(mean).isBetween(6.0, 16.0); // not the ceiling: latency says stop near 8-12
  }

  @Test
  void slowDownCutsTheLimitAndKeepsItNearWhatTheStoreAccepts() throws Exception {
    // the store answers 503 SlowDown (fast) to any request beyond 20 in flight
    Simulation sim = new Simulation(64, 64);
    IntFunction<Answer> store =
        n ->
            n > 20
                ? new Answer(MS, UploadOutcome.THROTTLED)
                : new Answer(10 * MS, UploadOutcome.OK);
    List<Integer> limits = sim.run(Duration.ofSeconds(10), store);
    assertThat(sim.changes.getFirst()).containsExactly(64, 32);
    List<Integer> late = limits.subList(limits.size() / 2, limits.size());
    assertThat(late.stream().mapToInt(Integer::intValue).max().orElseThrow())
        .isLessThanOrEqualTo(23);
    assertThat(late.stream().mapToInt(Integer::intValue).average().orElseThrow())
        .isGreaterThan(8.0);
  }

  @Test
  void backPressureCutsOncePerWindowAndEachKindSaysWhy() throws Exception {
    AtomicLong now = new AtomicLong();
    List<Reason> reasons = new ArrayList<>();
    List<Integer> to = new ArrayList<>();
    AdaptiveConcurrency ac =
        AdaptiveConcurrency.builder(64)
            .initial(64)
            .clock(now::get)
            .listener(
                (f, t, r) -> {
                  reasons.add(r);
                  to.add(t);
                })
            .build();
    for (int i = 0; i < 10; i++) {
      ac.acquire();
    }
    ac.release(0, UploadOutcome.TIMEOUT);
    ac.release(0, UploadOutcome.SERVER_ERROR); // same instant: the same overload, no second cut
    assertThat(ac.limit()).isEqualTo(32);
    now.addAndGet(20 * MS); // one window (the 20 ms minimum) later
    ac.release(0, UploadOutcome.SERVER_ERROR);
    now.addAndGet(20 * MS);
    ac.release(0, UploadOutcome.THROTTLED);
    ac.release(0, UploadOutcome.IGNORED);
    ac.release();
    assertThat(to).containsExactly(32, 16, 8);
    assertThat(reasons).containsExactly(Reason.TIMEOUT, Reason.SERVER_ERROR, Reason.THROTTLED);
    assertThat(ac.inFlight()).isEqualTo(4);
  }

  @Test
  void neverFallsBelowOne() throws Exception {
    AtomicLong now = new AtomicLong();
    AdaptiveConcurrency ac = AdaptiveConcurrency.builder(8).initial(8).clock(now::get).build();
    for (int i = 0; i < 50; i++) {
      ac.acquire();
      now.addAndGet(100 * MS);
      ac.release(0, UploadOutcome.THROTTLED);
      assertThat(ac.limit()).isGreaterThanOrEqualTo(1);
    }
    assertThat(ac.limit()).isEqualTo(1);
    assertThat(ac.tryAcquire(Duration.ZERO)).isTrue();
    assertThat(ac.tryAcquire(Duration.ZERO)).isFalse();
  }

  @Test
  void doesNotGrowWhileTheLimitIsNotWhatHoldsRequestsBack() throws Exception {
    AtomicLong now = new AtomicLong();
    AdaptiveConcurrency ac = AdaptiveConcurrency.builder(64).initial(4).clock(now::get).build();
    for (int i = 0; i < 1000; i++) { // one request at a time, never at the limit of 4
      ac.acquire();
      now.addAndGet(10 * MS);
      ac.release(10 * MS, UploadOutcome.OK);
    }
    assertThat(ac.limit()).isEqualTo(4);
  }

  @Test
  void releaseWithoutAPermitIsAnError() {
    AdaptiveConcurrency ac = AdaptiveConcurrency.builder(2).build();
    assertThatThrownBy(ac::release).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> ac.release(1, UploadOutcome.OK))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void theBuilderRejectsValuesOutsideTheirRange() {
    assertThatThrownBy(() -> AdaptiveConcurrency.builder(0))
        .hasMessageContaining("ceiling must be at least 1");
    var b = AdaptiveConcurrency.builder(4);
    assertThatThrownBy(() -> b.initial(0)).hasMessageContaining("initial");
    ConcurrencyTuning d = ConcurrencyTuning.DEFAULT;
    Duration w = d.minWindow();
    Duration h = d.floorHorizon();
    assertThatThrownBy(() -> new ConcurrencyTuning(w, h, 0.4, 1.0, 0.9, 0.5))
        .hasMessageContaining("tolerance");
    assertThatThrownBy(() -> new ConcurrencyTuning(w, h, 0.4, 1.5, 1.0, 0.5))
        .hasMessageContaining("latencyDecrease");
    assertThatThrownBy(() -> new ConcurrencyTuning(w, h, 0.4, 1.5, 0.9, 0))
        .hasMessageContaining("errorDecrease");
    assertThatThrownBy(() -> new ConcurrencyTuning(w, h, 0.4, 1.5, 0.5, 0.9))
        .hasMessageContaining("must not exceed");
    assertThatThrownBy(() -> new ConcurrencyTuning(w, h, 1.5, 1.5, 0.9, 0.5))
        .hasMessageContaining("smoothing");
    assertThatThrownBy(() -> d.withMinWindow(Duration.ZERO)).hasMessageContaining("minWindow");
    assertThat(AdaptiveConcurrency.builder(4).initial(100).build().limit()).isEqualTo(4);
  }

  @Test
  void tryAcquireGivesUpAfterItsTimeout() throws Exception {
    AdaptiveConcurrency ac = AdaptiveConcurrency.builder(1).build();
    ac.acquire();
    long t0 = System.nanoTime();
    assertThat(ac.tryAcquire(Duration.ofMillis(50))).isFalse();
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(50 * MS);
    ac.release();
    assertThat(ac.tryAcquire(Duration.ofMillis(50))).isTrue();
  }

  @Test
  void anInterruptedWaiterTakesNoPermitAndPassesItsWakeUpOn() throws Exception {
    AdaptiveConcurrency ac = AdaptiveConcurrency.builder(1).build();
    ac.acquire();
    CountDownLatch waiting = new CountDownLatch(2);
    AtomicInteger got = new AtomicInteger();
    Thread interrupted =
        Thread.ofVirtual()
            .start(
                () -> {
                  waiting.countDown();
                  try {
                    ac.acquire();
                    got.incrementAndGet();
                    ac.release();
                  } catch (InterruptedException e) {
                    // expected, unless the permit came first
                  }
                });
    Thread patient =
        Thread.ofVirtual()
            .start(
                () -> {
                  waiting.countDown();
                  try {
                    ac.acquire();
                    got.incrementAndGet();
                    ac.release();
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                });
    waiting.await();
    Thread.sleep(50); // both are parked in acquire (best effort; correctness does not depend on it)
    ac.release();
    interrupted.interrupt();
    interrupted.join(5000);
    patient.join(5000);
    assertThat(patient.isAlive()).isFalse();
    assertThat(interrupted.isAlive()).isFalse();
    // the interrupted one either threw (no permit taken) or took the permit first
    assertThat(got.get()).isBetween(1, 2);
    assertThat(ac.inFlight()).isZero();
  }

  @Test
  void anInterruptArrivingAfterThePermitIsKeptNotLost() throws Exception {
    AdaptiveConcurrency ac = AdaptiveConcurrency.builder(1).build();
    Thread.currentThread().interrupt();
    assertThatThrownBy(ac::acquire).isInstanceOf(InterruptedException.class);
    assertThat(ac.inFlight()).isZero();
    assertThat(ac.tryAcquire(Duration.ZERO)).isTrue();
  }

  @Test
  void permitsNeverExceedAFixedLimitUnderContention() throws Exception {
    int limit = 7;
    AdaptiveConcurrency ac = AdaptiveConcurrency.builder(limit).initial(limit).build();
    AtomicInteger holding = new AtomicInteger();
    AtomicInteger max = new AtomicInteger();
    AtomicInteger violations = new AtomicInteger();
    runThreads(
        500,
        200,
        () -> {
          ac.acquire();
          int h = holding.incrementAndGet();
          max.accumulateAndGet(h, Math::max);
          if (h > limit) {
            violations.incrementAndGet();
          }
          Thread.yield(); // let others try while this one holds its permit
          holding.decrementAndGet();
          ac.release(); // no feedback: the limit stays put
        });
    assertThat(violations.get()).isZero();
    assertThat(max.get()).isEqualTo(limit);
    assertThat(ac.inFlight()).isZero();
  }

  @Test
  void afterACutNewPermitsWaitUntilFewerThanTheNewLimitAreHeld() throws Exception {
    AtomicLong now = new AtomicLong(); // frozen: exactly one cut, from 32 to 16
    AdaptiveConcurrency ac = AdaptiveConcurrency.builder(32).initial(32).clock(now::get).build();
    AtomicInteger holding = new AtomicInteger();
    AtomicInteger violations = new AtomicInteger();
    CountDownLatch holdersIn = new CountDownLatch(32);
    CountDownLatch letGo = new CountDownLatch(1);
    CountDownLatch cut = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      boolean first = i == 0;
      threads.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      ac.acquire();
                      holding.incrementAndGet();
                      holdersIn.countDown();
                      letGo.await();
                      if (!first) {
                        cut.await(); // the cut comes first, else others would get in under 32
                      }
                      holding.decrementAndGet();
                      ac.release(0, first ? UploadOutcome.THROTTLED : UploadOutcome.IGNORED);
                      if (first) {
                        cut.countDown();
                      }
                    } catch (InterruptedException e) {
                      throw new AssertionError(e);
                    }
                  }));
    }
    assertThat(holdersIn.await(10, TimeUnit.SECONDS)).isTrue();
    AtomicInteger granted = new AtomicInteger();
    for (int i = 0; i < 300; i++) {
      threads.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      for (int k = 0; k < 20; k++) {
                        ac.acquire();
                        granted.incrementAndGet();
                        if (holding.incrementAndGet() > 16) {
                          violations.incrementAndGet();
                        }
                        holding.decrementAndGet();
                        ac.release(); // no feedback: the limit stays at 16
                      }
                    } catch (InterruptedException e) {
                      throw new AssertionError(e);
                    }
                  }));
    }
    Thread.sleep(20);
    assertThat(granted.get()).isZero(); // 32 held, limit 32: everyone else waits
    letGo.countDown();
    for (Thread t : threads) {
      t.join(20_000);
      assertThat(t.isAlive()).isFalse();
    }
    assertThat(ac.limit()).isEqualTo(16);
    assertThat(granted.get()).isEqualTo(300 * 20);
    assertThat(violations.get()).isZero();
    assertThat(ac.inFlight()).isZero();
  }

  @Test
  void aLimitMovingUnderLoadWithInterruptsNeverLeaksOrOverflowsAPermit() throws Exception {
    int ceiling = 16;
    List<int[]> changes = new CopyOnWriteArrayList<>();
    AdaptiveConcurrency ac =
        AdaptiveConcurrency.builder(ceiling)
            .initial(4)
            .tuning(ConcurrencyTuning.DEFAULT.withMinWindow(Duration.ofNanos(50_000)))
            .listener((f, t, r) -> changes.add(new int[] {f, t}))
            .build();
    AtomicInteger holding = new AtomicInteger();
    AtomicInteger overCeiling = new AtomicInteger();
    AtomicInteger interruptedWaits = new AtomicInteger();
    AtomicInteger completed = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      threads.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    ThreadLocalRandom rnd = ThreadLocalRandom.current();
                    for (int k = 0; k < 50; k++) {
                      try {
                        ac.acquire();
                      } catch (InterruptedException e) {
                        interruptedWaits.incrementAndGet();
                        continue;
                      }
                      if (holding.incrementAndGet() > ceiling) {
                        overCeiling.incrementAndGet();
                      }
                      long t0 = System.nanoTime();
                      Thread.yield();
                      holding.decrementAndGet();
                      UploadOutcome o =
                          rnd.nextInt(20) == 0 ? UploadOutcome.THROTTLED : UploadOutcome.OK;
                      ac.release(System.nanoTime() - t0, o);
                      completed.incrementAndGet();
                    }
                    Thread.interrupted(); // clear a late interrupt before the thread ends
                  }));
    }
    Thread interrupter =
        Thread.ofVirtual()
            .start(
                () -> {
                  ThreadLocalRandom rnd = ThreadLocalRandom.current();
                  for (int i = 0; i < 2000; i++) {
                    threads.get(rnd.nextInt(threads.size())).interrupt();
                    Thread.yield();
                  }
                });
    interrupter.join(20_000);
    for (Thread t : threads) {
      t.join(30_000);
      assertThat(t.isAlive()).isFalse();
    }
    assertThat(overCeiling.get()).isZero();
    assertThat(ac.inFlight()).isZero();
    assertThat(completed.get() + interruptedWaits.get()).isEqualTo(400 * 50);
    assertThat(changes).allSatisfy(c -> assertThat(c[1]).isBetween(1, ceiling));
    assertThat(ac.limit()).isBetween(1, ceiling);
    // the whole ceiling's worth of permits can still be had
    for (int i = 0; i < ac.limit(); i++) {
      assertThat(ac.tryAcquire(Duration.ofSeconds(1))).isTrue();
    }
  }

  interface Body {
    void run() throws Exception;
  }

  private static void runThreads(int threads, int rounds, Body body) throws Exception {
    List<Thread> all = new ArrayList<>();
    AtomicInteger failures = new AtomicInteger();
    for (int i = 0; i < threads; i++) {
      all.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      for (int r = 0; r < rounds; r++) {
                        body.run();
                      }
                    } catch (Exception e) {
                      failures.incrementAndGet();
                    }
                  }));
    }
    for (Thread t : all) {
      t.join(30_000);
      assertThat(t.isAlive()).isFalse();
    }
    assertThat(failures.get()).isZero();
  }
}
