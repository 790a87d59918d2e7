package io.millrace.bench.log;

import java.util.concurrent.atomic.AtomicLongArray;

/** Latencies in 10 us buckets up to 1 s (and one overflow bucket), thread-safe. */
final class Histogram {
  private static final int BUCKET_NANOS = 10_000;
  private static final int BUCKETS = 100_000;
  private final AtomicLongArray counts = new AtomicLongArray(BUCKETS + 1);
  private volatile long max;

  void record(long nanos) {
    counts.incrementAndGet((int) Math.min(BUCKETS, nanos / BUCKET_NANOS));
    if (nanos > max) {
      max = nanos; // racy, good enough for a maximum
    }
  }

  void reset() {
    for (int i = 0; i <= BUCKETS; i++) {
      counts.set(i, 0);
    }
    max = 0;
  }

  long max() {
    return max;
  }

  /** {@return the upper bound of the bucket holding the given percentile, in nanoseconds} */
  long percentile(double p) {
    long total = 0;
    for (int i = 0; i <= BUCKETS; i++) {
      total += counts.get(i);
    }
    long rank = (long) Math.ceil(total * p / 100.0);
    long seen = 0;
    for (int i = 0; i <= BUCKETS; i++) {
      seen += counts.get(i);
      if (seen >= rank && seen > 0) {
        return (i + 1L) * BUCKET_NANOS;
      }
    }
    return 0;
  }
}
