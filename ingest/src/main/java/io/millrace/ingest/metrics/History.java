package io.millrace.ingest.metrics;

import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The last few minutes of the service's meters, one {@link Sample} a second, for the status page's
 * sparklines: rates from the counters' growth between two samples, the gauges as they were, and the
 * upload latency over the last {@value #LATENCY_WINDOW} samples from the upload histogram's
 * buckets. It reads the same meters {@code /metrics} exports.
 *
 * <p>{@link #sample(long)} takes one sample (tests call it with their own clock); {@link #start}
 * starts a virtual thread that calls it every interval until {@link #close()}.
 *
 * <p>Thread-safe: one {@link ReentrantLock} guards the samples; {@link #sample} is meant to be
 * called by one thread at a time (the sampler), {@link #since} by any.
 */
public final class History implements AutoCloseable {
  /** Samples kept: five minutes at one a second. */
  public static final int CAPACITY = 300;

  /** Samples the upload latency is computed over. */
  public static final int LATENCY_WINDOW = 5;

  /**
   * One second of the service, as the status page draws it. Rates are per second; NaN where there
   * is nothing to tell (no earlier sample, no upload in the window, a gauge not registered).
   *
   * @param seq this sample's number, from 1, one more than the last one's
   * @param atMillis when it was taken, epoch milliseconds
   * @param accepted payloads admitted per second
   * @param stored payloads stored per second
   * @param r2xx responses 2xx per second
   * @param r4xx responses 4xx per second (429 included)
   * @param r429 responses 429 per second
   * @param r5xx responses 5xx per second
   * @param queuePayloads payloads admitted and not yet stored
   * @param queueBytes their bytes
   * @param oldestUnstoredAgeSeconds age of the oldest payload not yet stored
   * @param uploadsInFlight object uploads in flight
   * @param uploads objects stored per second
   * @param uploadMeanMs mean upload time over the latency window, milliseconds
   * @param uploadP50Ms median upload time over the window, from the buckets
   * @param uploadP99Ms 99th percentile upload time over the window, from the buckets
   */
  public record Sample(
      long seq,
      long atMillis,
      double accepted,
      double stored,
      double r2xx,
      double r4xx,
      double r429,
      double r5xx,
      double queuePayloads,
      double queueBytes,
      double oldestUnstoredAgeSeconds,
      double uploadsInFlight,
      double uploads,
      double uploadMeanMs,
      double uploadP50Ms,
      double uploadP99Ms) {}

  /** The cumulative readings one sample is computed from. */
  private record Reading(
      long atMillis,
      double accepted,
      double stored,
      long r2xx,
      long r4xx,
      long r429,
      long r5xx,
      long uploads,
      double uploadSeconds,
      double[] bounds,
      double[] cumulative) {}

  private final Metrics metrics;
  private final int capacity;
  private final ReentrantLock lock = new ReentrantLock();
  private final ArrayDeque<Sample> samples = new ArrayDeque<>(); // guarded by lock
  private final ArrayDeque<Reading> readings = new ArrayDeque<>(); // guarded by lock
  private long seq; // guarded by lock
  private volatile Thread sampler;
  private volatile boolean closed;

  History(Metrics metrics, int capacity) {
    this.metrics = metrics;
    this.capacity = capacity;
  }

  /**
   * Takes one sample of the meters now.
   *
   * @param nowMillis the time to stamp it with, epoch milliseconds (rates use the time between
   *     samples)
   * @return the sample
   */
  public Sample sample(long nowMillis) {
    Reading now = read(nowMillis);
    lock.lock();
    try {
      Reading prev = readings.peekLast();
      Reading windowStart = readings.peekFirst(); // at most LATENCY_WINDOW samples back
      Sample s = compute(++seq, prev, windowStart, now);
      readings.addLast(now);
      while (readings.size() > LATENCY_WINDOW) {
        readings.removeFirst();
      }
      samples.addLast(s);
      while (samples.size() > capacity) {
        samples.removeFirst();
      }
      return s;
    } finally {
      lock.unlock();
    }
  }

  /** {@return the samples after {@code afterSeq}, oldest first (all held for 0)} */
  public List<Sample> since(long afterSeq) {
    lock.lock();
    try {
      List<Sample> out = new ArrayList<>();
      for (Sample s : samples) {
        if (s.seq() > afterSeq) {
          out.add(s);
        }
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** {@return the newest sample, or null before the first} */
  public Sample latest() {
    lock.lock();
    try {
      return samples.peekLast();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Starts sampling every {@code interval} on a virtual thread of its own, at a fixed rate, until
   * {@link #close()}. Call once.
   *
   * @param clock epoch milliseconds
   * @return this, to be closed
   */
  public History start(Duration interval, LongSupplier clock) {
    long step = interval.toNanos();
    sampler =
        Thread.ofVirtual()
            .name("millrace-status-sampler")
            .start(
                () -> {
                  long next = System.nanoTime();
                  while (!closed) {
                    sample(clock.getAsLong());
                    next += step;
                    long wait = next - System.nanoTime();
                    if (wait < 0) {
                      next = System.nanoTime(); // fell behind (a long pause): no burst of samples
                      continue;
                    }
                    try {
                      TimeUnit.NANOSECONDS.sleep(wait);
                    } catch (InterruptedException e) {
                      return; // closed: the thread is ours, nothing else to tell
                    }
                  }
                });
    return this;
  }

  /** Stops sampling and waits for the sampler thread to end (a second at most). */
  @Override
  public void close() {
    closed = true;
    Thread t = sampler;
    if (t != null) {
      t.interrupt();
      boolean interrupted = false;
      try {
        t.join(1000);
      } catch (InterruptedException e) {
        interrupted = true;
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private Reading read(long nowMillis) {
    long r2 = 0;
    long r4 = 0;
    long r429 = 0;
    long r5 = 0;
    for (Map.Entry<Integer, Long> e : metrics.responsesByStatus().entrySet()) {
      int s = e.getKey();
      long n = e.getValue();
      if (s >= 200 && s < 300) {
        r2 += n;
      } else if (s >= 400 && s < 500) {
        r4 += n;
        if (s == 429) {
          r429 += n;
        }
      } else if (s >= 500) {
        r5 += n;
      }
    }
    HistogramSnapshot h = metrics.uploadTime.takeSnapshot();
    CountAtBucket[] buckets = h.histogramCounts();
    double[] bounds = new double[buckets.length];
    double[] cumulative = new double[buckets.length];
    for (int i = 0; i < buckets.length; i++) {
      bounds[i] = buckets[i].bucket(TimeUnit.MILLISECONDS);
      cumulative[i] = buckets[i].count();
    }
    return new Reading(
        nowMillis,
        metrics.payloadsAccepted.count(),
        metrics.payloadsStored.count(),
        r2,
        r4,
        r429,
        r5,
        h.count(),
        h.total(TimeUnit.SECONDS),
        bounds,
        cumulative);
  }

  private Sample compute(long seq, Reading prev, Reading windowStart, Reading now) {
    double dt = prev == null ? 0 : (now.atMillis() - prev.atMillis()) / 1000.0;
    long uploadsInWindow = windowStart == null ? 0 : now.uploads() - windowStart.uploads();
    double mean = Double.NaN;
    double p50 = Double.NaN;
    double p99 = Double.NaN;
    if (uploadsInWindow > 0) {
      mean = (now.uploadSeconds() - windowStart.uploadSeconds()) * 1000.0 / uploadsInWindow;
      p50 = quantile(0.50, windowStart, now, uploadsInWindow);
      p99 = quantile(0.99, windowStart, now, uploadsInWindow);
    }
    return new Sample(
        seq,
        now.atMillis(),
        rate(prev == null ? 0 : now.accepted() - prev.accepted(), dt),
        rate(prev == null ? 0 : now.stored() - prev.stored(), dt),
        rate(prev == null ? 0 : now.r2xx() - prev.r2xx(), dt),
        rate(prev == null ? 0 : now.r4xx() - prev.r4xx(), dt),
        rate(prev == null ? 0 : now.r429() - prev.r429(), dt),
        rate(prev == null ? 0 : now.r5xx() - prev.r5xx(), dt),
        metrics.value("millrace_queue_payloads"),
        metrics.value("millrace_queue_bytes"),
        metrics.value("millrace_queue_oldest_unstored_age_seconds"),
        metrics.value("millrace_uploads_in_flight"),
        rate(prev == null ? 0 : now.uploads() - prev.uploads(), dt),
        mean,
        p50,
        p99);
  }

  private static double rate(double delta, double seconds) {
    return seconds <= 0 ? Double.NaN : Math.max(0, delta) / seconds;
  }

  /**
   * {@return the {@code q} quantile of the uploads between two readings, milliseconds, interpolated
   * linearly inside the bucket it falls in (Prometheus' {@code histogram_quantile}); past the last
   * bound, the last bound}
   */
  static double quantile(double q, Reading from, Reading to, long count) {
    double rank = q * count;
    double lower = 0;
    double below = 0;
    for (int i = 0; i < to.bounds().length; i++) {
      double cum = to.cumulative()[i] - (i < from.cumulative().length ? from.cumulative()[i] : 0);
      if (cum >= rank) {
        double inBucket = cum - below;
        double frac = inBucket <= 0 ? 1 : (rank - below) / inBucket;
        return lower + (to.bounds()[i] - lower) * frac;
      }
      lower = to.bounds()[i];
      below = cum;
    }
    return lower;
  }
}
