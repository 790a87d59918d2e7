package io.millrace.pipeline;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stage's name and live counters, and the buffer it writes into (whose fill is its "buffered").
 *
 * <p>Each counter is written by the stage's own threads and read by anyone through {@link
 * #snapshot()}. A counter only one thread writes is bumped with {@code lazySet(get() + 1)}, which
 * costs no atomic instruction on the hot path; one that several threads write (a concurrent stage's
 * call threads) uses {@code getAndIncrement}, unless the stage keeps it per thread and contributes
 * the sums through {@link #share} ({@code mapConcurrent}'s workers: {@code out}, {@code inFlight}
 * and {@code busy} without an atomic instruction per call).
 */
final class StageCounters {
  final String name;
  private final Channel<Object> output;

  /** The region the stage is in ({@code take}'s or {@code zip}'s upstream), or null for none. */
  final Region region;

  final AtomicLong in = new AtomicLong();
  final AtomicLong out = new AtomicLong();
  final AtomicLong failed = new AtomicLong();
  final AtomicLong skipped = new AtomicLong();
  final AtomicLong retried = new AtomicLong();
  final AtomicLong diverted = new AtomicLong();
  final AtomicInteger inFlight = new AtomicInteger();
  final AtomicLong busyNanos = new AtomicLong();

  /**
   * Counters a stage keeps per thread, each written by its one thread only; a snapshot adds their
   * sums to the shared counters. Exact once the threads ended (the run's end orders their writes
   * before any read of a finished run); while they run, a sum is as fresh as each thread's last
   * write.
   */
  interface Shares {
    long out();

    int inFlight();

    long busyNanos();
  }

  private volatile Shares shares;

  /** Adds {@code s}'s sums to this stage's snapshots; set at most once, by the stage's thread. */
  void share(Shares s) {
    shares = s;
  }

  /**
   * Creates the counters of one stage.
   *
   * @param name the stage's unique name within its run
   * @param output the buffer the stage writes into, or {@code null} for the sink
   * @param region the region the stage is in, or {@code null} for none
   */
  StageCounters(String name, Channel<Object> output, Region region) {
    this.name = name;
    this.output = output;
    this.region = region;
  }

  /** {@return the counters now; each is read on its own, so the set is not atomic} */
  StageStats snapshot() {
    Shares s = shares;
    return new StageStats(
        name,
        in.get(),
        out.get() + (s == null ? 0 : s.out()),
        failed.get(),
        skipped.get(),
        retried.get(),
        diverted.get(),
        inFlight.get() + (s == null ? 0 : s.inFlight()),
        output == null ? 0 : output.size(),
        Duration.ofNanos(busyNanos.get() + (s == null ? 0 : s.busyNanos())));
  }
}
