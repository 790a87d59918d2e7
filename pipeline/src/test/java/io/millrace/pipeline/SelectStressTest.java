package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Random selects over two channels of random capacities (0 to 3), by producers, consumers and
 * threads that select on a send and a receive at once, all interrupted at random moments; then both
 * channels are closed and drained. Exact accounting: every value whose send (a send clause, or a
 * plain send) returned normally is received exactly once, and nothing else is received; a send that
 * threw {@link InterruptedException} is retried with the same value, so in the end every value is
 * sent exactly once. No select registration is left in either channel. Scale with {@code
 * -Dmillrace.stress.iterations=N} (default 300); a failure names its seed, {@code
 * -Dmillrace.stress.seed=S} replays the iteration seeds.
 */
@Timeout(600)
class SelectStressTest {

  @Test
  void randomSelectsInterruptedAtRandomLoseNothingAndDuplicateNothing() {
    long seed = Long.getLong("millrace.stress.seed", System.nanoTime());
    SplittableRandom rnd = new SplittableRandom(seed);
    int iterations = StressConfig.iterations();
    long interrupts = 0;
    for (int it = 0; it < iterations; it++) {
      long iterationSeed = rnd.nextLong();
      AtomicInteger count = new AtomicInteger();
      String where = "seed " + seed + ", iteration " + it;
      try {
        Bounded.within(
            Duration.ofSeconds(30), () -> count.set(runOne(new SplittableRandom(iterationSeed))));
      } catch (AssertionError e) {
        throw new AssertionError(where + ": " + e.getMessage(), e);
      }
      interrupts += count.get();
    }
    if (iterations >= 50) {
      assertThat(interrupts).as("interrupts that hit a waiting or entering select").isPositive();
    }
  }

  /** One run; {@return how many selects or sends threw InterruptedException} */
  private static int runOne(SplittableRandom rnd) throws Exception {
    Channel<Integer> a = channel(rnd.nextInt(4));
    Channel<Integer> b = channel(rnd.nextInt(4));
    ConcurrentLinkedQueue<Integer> sent = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Integer> received = new ConcurrentLinkedQueue<>();
    AtomicInteger interrupted = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Integer> all = new ArrayList<>();

    List<Thread> senders = new ArrayList<>(); // producers and mixed threads
    int producers = 1 + rnd.nextInt(3);
    int mixed = rnd.nextInt(3);
    for (int p = 0; p < producers + mixed; p++) {
      List<Integer> values = new ArrayList<>();
      for (int k = 1 + rnd.nextInt(200); k > 0; k--) {
        values.add(p * 1_000_000 + k);
      }
      all.addAll(values);
      SplittableRandom r = rnd.split();
      boolean isMixed = p >= producers;
      senders.add(
          start(
              failure,
              () -> {
                for (Integer v : values) {
                  while (!send(r, a, b, v, isMixed, received)) {
                    interrupted.incrementAndGet();
                  }
                  sent.add(v);
                }
              }));
    }
    List<Thread> consumers = new ArrayList<>();
    for (int c = 1 + rnd.nextInt(3); c > 0; c--) {
      SplittableRandom r = rnd.split();
      consumers.add(start(failure, () -> consume(r, a, b, received, interrupted)));
    }
    List<Thread> workers = new ArrayList<>(senders);
    workers.addAll(consumers);

    // interrupt random workers at random moments until every sender is done
    SplittableRandom ir = rnd.split();
    while (senders.stream().anyMatch(Thread::isAlive)) {
      Thread.sleep(0, ir.nextInt(300_000));
      if (ir.nextInt(3) == 0) {
        workers.get(ir.nextInt(workers.size())).interrupt();
      }
    }
    a.close();
    b.close();
    for (Thread t : workers) {
      t.join();
    }
    if (failure.get() != null) {
      throw new AssertionError("a worker failed", failure.get());
    }

    List<Integer> got = new ArrayList<>(received);
    Collections.sort(got);
    List<Integer> expected = new ArrayList<>(sent);
    Collections.sort(expected);
    Collections.sort(all);
    assertThat(expected).as("values sent").isEqualTo(all);
    assertThat(got).as("values received (each exactly once)").isEqualTo(expected);
    assertThat(SelectTest.registrations(a) + SelectTest.registrations(b))
        .as("select registrations left")
        .isZero();
    return interrupted.get();
  }

  private static Channel<Integer> channel(int capacity) {
    return capacity == 0 ? Channel.rendezvous() : Channel.buffered(capacity);
  }

  private interface Body {
    void run() throws Exception;
  }

  private static Thread start(AtomicReference<Throwable> failure, Body body) {
    return Thread.ofVirtual()
        .start(
            () -> {
              try {
                body.run();
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            });
  }

  /**
   * Sends {@code v} one random way; a mixed thread may receive instead (then it tries again).
   * {@return false if interrupted: {@code v} was not sent}
   */
  private static boolean send(
      SplittableRandom r,
      Channel<Integer> a,
      Channel<Integer> b,
      Integer v,
      boolean mixed,
      ConcurrentLinkedQueue<Integer> received)
      throws Exception {
    while (true) {
      try {
        if (mixed) {
          Channel<Integer> out = r.nextBoolean() ? a : b;
          Channel<Integer> in = out == a ? b : a;
          Integer got = Select.select(out.sendClause(v, () -> null), in.receiveClause());
          if (got == null) {
            return true;
          }
          received.add(got);
          continue; // received one instead; v still to send
        }
        switch (r.nextInt(5)) {
          case 0 -> a.send(v);
          case 1 -> {
            if (Select.select(a.sendClause(v), b.sendClause(v), Select.defaultClause("full"))
                != null) {
              Thread.yield();
              continue;
            }
          }
          case 2 -> {
            try {
              Select.selectWithin(Duration.ofNanos(r.nextInt(200_000)), a.sendClause(v));
            } catch (TimeoutException e) {
              continue;
            }
          }
          default -> Select.select(a.sendClause(v), b.sendClause(v));
        }
        return true;
      } catch (InterruptedException e) {
        return false;
      }
    }
  }

  /** Receives random ways until both channels are closed and drained. */
  private static void consume(
      SplittableRandom r,
      Channel<Integer> a,
      Channel<Integer> b,
      ConcurrentLinkedQueue<Integer> received,
      AtomicInteger interrupted) {
    while (true) {
      try {
        Integer v =
            switch (r.nextInt(5)) {
              case 0 ->
                  Select.select(a.receiveClause(), b.receiveClause(), Select.defaultClause(null));
              case 1 -> {
                try {
                  yield Select.selectWithin(
                      Duration.ofNanos(r.nextInt(200_000)), b.receiveClause(), a.receiveClause());
                } catch (TimeoutException e) {
                  yield null;
                }
              }
              case 2 -> r.nextBoolean() ? a.poll() : b.poll();
              default -> Select.select(a.receiveClause(), b.receiveClause());
            };
        if (v != null) {
          received.add(v);
        } else {
          Thread.yield();
        }
      } catch (InterruptedException e) {
        interrupted.incrementAndGet();
      } catch (ChannelClosedException e) {
        drain(a, received);
        drain(b, received);
        return;
      }
    }
  }

  /** Takes what a closed channel still holds (an interrupt left pending is cleared first). */
  private static void drain(Channel<Integer> ch, ConcurrentLinkedQueue<Integer> received) {
    Thread.interrupted();
    try {
      for (Integer v; (v = ch.poll()) != null; ) {
        received.add(v);
      }
    } catch (ChannelClosedException drained) {
      // done
    }
  }
}
