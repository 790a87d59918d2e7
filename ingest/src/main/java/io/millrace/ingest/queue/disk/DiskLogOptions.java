package io.millrace.ingest.queue.disk;

import java.time.InstantSource;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;

/**
 * How a {@link DiskLog} is set up. Start from {@link #defaults()} and change what you need.
 *
 * @param segmentBytes a segment is rolled over before a record would take it past this size (a
 *     bound on every segment, since no record is larger than {@code maxRecordBytes})
 * @param maxRecordBytes the largest encoded append (header plus 4 bytes and the bytes of each
 *     payload); larger appends are refused
 * @param maxWriteBytes how many bytes of queued writes the writer takes into one write and one
 *     fsync, at most
 * @param clock stamps appends and cuts, and ages the oldest unstored payload
 * @param threadFactory makes the log's two threads, the writer and the deadline keeper (platform
 *     threads: the writer blocks in fsync)
 * @param listener metrics hooks
 */
public record DiskLogOptions(
    long segmentBytes,
    int maxRecordBytes,
    int maxWriteBytes,
    InstantSource clock,
    ThreadFactory threadFactory,
    LogListener listener) {

  /** Checks every option against the others. */
  public DiskLogOptions {
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(threadFactory, "threadFactory");
    Objects.requireNonNull(listener, "listener");
    if (maxRecordBytes < 64) {
      throw new IllegalArgumentException("maxRecordBytes must be >= 64, was " + maxRecordBytes);
    }
    if (maxWriteBytes < maxRecordBytes) {
      throw new IllegalArgumentException(
          "maxWriteBytes ("
              + maxWriteBytes
              + ") must be >= maxRecordBytes ("
              + maxRecordBytes
              + ")");
    }
    if (segmentBytes < RecordFormat.SEGMENT_HEADER_BYTES + (long) maxRecordBytes) {
      throw new IllegalArgumentException(
          "segmentBytes ("
              + segmentBytes
              + ") must hold the segment header and one record of maxRecordBytes ("
              + maxRecordBytes
              + ")");
    }
  }

  /**
   * {@return 64 MiB segments, records up to 16 MiB, up to 16 MiB per write, the system clock, a
   * platform writer thread named {@code millrace-log-writer}, no listener}
   */
  public static DiskLogOptions defaults() {
    return new DiskLogOptions(
        64L << 20,
        16 << 20,
        16 << 20,
        InstantSource.system(),
        Thread.ofPlatform().name("millrace-log-writer").factory(),
        LogListener.NONE);
  }

  /**
   * {@return these options with another segment size}
   *
   * @param bytes the new size
   */
  public DiskLogOptions withSegmentBytes(long bytes) {
    return new DiskLogOptions(bytes, maxRecordBytes, maxWriteBytes, clock, threadFactory, listener);
  }

  /**
   * {@return these options with another record limit (and the write limit raised to it if needed)}
   *
   * @param bytes the largest encoded append
   */
  public DiskLogOptions withMaxRecordBytes(int bytes) {
    return new DiskLogOptions(
        segmentBytes, bytes, Math.max(bytes, maxWriteBytes), clock, threadFactory, listener);
  }

  /**
   * {@return these options with another clock}
   *
   * @param source the clock
   */
  public DiskLogOptions withClock(InstantSource source) {
    return new DiskLogOptions(
        segmentBytes, maxRecordBytes, maxWriteBytes, source, threadFactory, listener);
  }

  /**
   * {@return these options with another thread factory}
   *
   * @param factory makes the writer thread
   */
  public DiskLogOptions withThreadFactory(ThreadFactory factory) {
    return new DiskLogOptions(
        segmentBytes, maxRecordBytes, maxWriteBytes, clock, factory, listener);
  }

  /**
   * {@return these options with another listener}
   *
   * @param hooks the listener
   */
  public DiskLogOptions withListener(LogListener hooks) {
    return new DiskLogOptions(
        segmentBytes, maxRecordBytes, maxWriteBytes, clock, threadFactory, hooks);
  }
}
