package io.millrace.ingest.queue.disk;

import io.millrace.ingest.config.Config;
import java.time.Duration;
import java.time.InstantSource;

/**
 * How a {@link DiskJobQueue} runs on its log.
 *
 * @param writeTimeout how long an append, a cut or a stored record may take to be durable
 * @param maxInFlightPayloads payloads handed out and not yet recorded stored, at most (at least one
 *     is always handed out)
 * @param maxInFlightBytes their bytes, at most
 * @param duplicateWindowMs how long an {@code Idempotency-Key} is remembered
 * @param notReadyAfterError how long {@link DiskJobQueue#notReadyReason()} reports a failed write
 *     (while no request has been admitted since): admission is tried again after it, and recovers
 *     if the cause is gone
 * @param clock readiness and idempotency windows
 */
public record DiskQueueOptions(
    Duration writeTimeout,
    long maxInFlightPayloads,
    long maxInFlightBytes,
    long duplicateWindowMs,
    Duration notReadyAfterError,
    InstantSource clock) {

  /** Checks the bounds. */
  public DiskQueueOptions {
    if (maxInFlightPayloads < 1 || maxInFlightBytes < 1) {
      throw new IllegalArgumentException("in-flight bounds must be >= 1");
    }
  }

  /**
   * {@return the options of a service: the in-flight bound is what {@code MAX_WORKERS} uploads and
   * two batches more can hold, within {@code MAX_QUEUE} and {@code MILLRACE_QUEUE_MAX_BYTES}; 5 s
   * write timeout; readiness fails for 5 s after a failed write}
   */
  public static DiskQueueOptions of(Config config) {
    long batches = config.maxWorkers() + 2L;
    return new DiskQueueOptions(
        Duration.ofSeconds(5),
        Math.min(config.maxQueue(), batches * config.batchMaxPayloads()),
        Math.min(config.queueMaxBytes(), batches * config.batchMaxBytes()),
        config.nats().duplicateWindowMs(),
        Duration.ofSeconds(5),
        InstantSource.system());
  }

  /** {@return these options with another in-flight bound} */
  public DiskQueueOptions withInFlight(long payloads, long bytes) {
    return new DiskQueueOptions(
        writeTimeout, payloads, bytes, duplicateWindowMs, notReadyAfterError, clock);
  }

  /** {@return these options with another clock} */
  public DiskQueueOptions withClock(InstantSource source) {
    return new DiskQueueOptions(
        writeTimeout,
        maxInFlightPayloads,
        maxInFlightBytes,
        duplicateWindowMs,
        notReadyAfterError,
        source);
  }
}
