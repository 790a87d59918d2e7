package io.millrace.ingest.workers;

import io.micrometer.core.instrument.Counter;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.store.ObjectStore;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Puts objects into the store under an upload concurrency limit: {@link AdaptiveConcurrency} when
 * {@code MILLRACE_UPLOAD_ADAPTIVE=true} (the default; {@code MAX_WORKERS} is its ceiling), else
 * just the {@code MAX_WORKERS} of the pipeline stage. Each finished put reports its latency and
 * {@link UploadOutcome} to the limiter.
 *
 * <p>Metrics: {@code millrace_upload_concurrency_limit} (gauge: the current limit; {@code
 * MAX_WORKERS} when not adaptive), {@code millrace_upload_concurrency_limit_changes_total} (counter
 * by {@code direction} up/down and {@code reason}: grow, latency, timeout, server_error,
 * throttled).
 *
 * <p>Thread-safe: {@link #put} is called from many upload threads. It blocks while the limit is
 * reached; an interrupt while waiting throws {@link InterruptedException} and takes no permit.
 */
final class Uploader {
  private final ObjectStore store;
  private final AdaptiveConcurrency limiter; // null: fixed
  private final LongSupplier nanoClock;
  private final AtomicInteger fixedLimit;

  Uploader(
      ObjectStore store,
      int ceiling,
      boolean adaptive,
      LongSupplier nanoClock,
      ConcurrencyTuning tuning,
      Metrics metrics) {
    this.store = store;
    this.nanoClock = nanoClock;
    this.fixedLimit = new AtomicInteger(ceiling);
    if (adaptive) {
      Map<AdaptiveConcurrency.Reason, Counter> changes =
          new EnumMap<>(AdaptiveConcurrency.Reason.class);
      for (AdaptiveConcurrency.Reason r : AdaptiveConcurrency.Reason.values()) {
        changes.put(
            r,
            metrics.counter(
                "millrace_upload_concurrency_limit_changes",
                "changes of the adaptive upload concurrency limit, by direction and reason",
                "direction",
                r == AdaptiveConcurrency.Reason.GROW ? "up" : "down",
                "reason",
                r.name().toLowerCase(java.util.Locale.ROOT)));
      }
      this.limiter =
          AdaptiveConcurrency.builder(ceiling)
              .initial(Math.min(ceiling, 16))
              .clock(nanoClock)
              .tuning(tuning)
              .listener((from, to, reason) -> changes.get(reason).increment())
              .build();
      metrics.gauge(
          "millrace_upload_concurrency_limit",
          "uploads allowed in flight now (adaptive, at most MAX_WORKERS)",
          limiter::limit);
    } else {
      this.limiter = null;
      metrics.gauge(
          "millrace_upload_concurrency_limit",
          "uploads allowed in flight now (MAX_WORKERS: adaptive limit off)",
          fixedLimit::get);
    }
    metrics.gauge("millrace_upload_concurrency_ceiling", "MAX_WORKERS", () -> ceiling);
  }

  /** {@return the limit now: the adaptive one, or {@code MAX_WORKERS}} */
  int limit() {
    return limiter == null ? fixedLimit.get() : limiter.limit();
  }

  /**
   * Stores one object, waiting first for a permit of the limit.
   *
   * @param ifAbsent store it only if no object is at the key yet ({@link ObjectStore#putIfAbsent}):
   *     for batches whose content is fixed by their key
   * @return false if {@code ifAbsent} and an object was at the key already (left as it is)
   * @throws InterruptedException if interrupted while waiting for a permit (none taken) or while
   *     the store call runs
   * @throws Exception what the store threw; its outcome was reported to the limiter
   */
  boolean put(String key, byte[] body, String contentType, String contentEncoding, boolean ifAbsent)
      throws Exception {
    if (limiter == null) {
      return store(key, body, contentType, contentEncoding, ifAbsent);
    }
    limiter.acquire();
    long t0 = nanoClock.getAsLong();
    Throwable failure = null;
    try {
      return store(key, body, contentType, contentEncoding, ifAbsent);
    } catch (Exception | Error e) {
      failure = e;
      throw e;
    } finally {
      UploadOutcome outcome = UploadOutcome.of(failure);
      if (outcome == UploadOutcome.IGNORED) {
        limiter.release();
      } else {
        limiter.release(nanoClock.getAsLong() - t0, outcome);
      }
    }
  }

  private boolean store(
      String key, byte[] body, String contentType, String contentEncoding, boolean ifAbsent)
      throws Exception {
    if (ifAbsent) {
      return store.putIfAbsent(key, body, contentType, contentEncoding);
    }
    store.put(key, body, contentType, contentEncoding);
    return true;
  }
}
