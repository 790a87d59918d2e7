package io.millrace.ingest.queue.disk;

import io.millrace.ingest.metrics.Metrics;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The meters of a {@link DiskJobQueue}'s log: the listener the log is opened with (fsync times,
 * writes and write errors into {@link Metrics}, each event passed on to the listener it wraps; a
 * write error also noted by {@link DiskAdmission} for readiness) and the queue's gauges.
 *
 * <p>The listener runs on the log's writer thread. {@link #admission} is set by the opening thread
 * once the queue is built and read by the writer thread; until it is set (writes of the start, such
 * as taking in spill files), write errors are metered but not noted for readiness.
 */
final class LogMeters implements LogListener {
  private final LogListener inner;
  private final Metrics metrics;

  /** Where write errors are noted; null until the queue is built. */
  volatile DiskAdmission admission; // written by the opening thread, read by the writer thread

  LogMeters(LogListener inner, Metrics metrics) {
    this.inner = inner;
    this.metrics = metrics;
  }

  @Override
  public void onFsync(long nanos, int writes) {
    metrics.logFsync.record(nanos, TimeUnit.NANOSECONDS);
    metrics.logWrites.increment(writes);
    inner.onFsync(nanos, writes);
  }

  @Override
  public void onWriteError(LogIoException failure) {
    DiskAdmission a = admission;
    if (a != null) {
      a.writeFailed(failure.getMessage());
    }
    metrics.logWriteErrors.increment();
    inner.onWriteError(failure);
  }

  @Override
  public void onSegmentDeleted(String fileName, long bytes) {
    inner.onSegmentDeleted(fileName, bytes);
  }

  /** Registers the gauges of the queue's log and of its jobs in flight. */
  static void gauges(Metrics metrics, DiskLog log, Supplier<Number> inFlightPayloads) {
    metrics.gauge(
        "millrace_queue_log_bytes",
        "bytes in the local log's segment files",
        () -> log.stats().logBytes());
    metrics.gauge(
        "millrace_queue_log_segments",
        "segment files of the local log",
        () -> log.stats().segments());
    metrics.gauge(
        "millrace_queue_in_flight_payloads",
        "payloads read from the local log and not yet recorded stored (bounded: the heap's share)",
        inFlightPayloads);
  }
}
