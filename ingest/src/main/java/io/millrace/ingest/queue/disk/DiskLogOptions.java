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
 * @param preallocate whether the next segment is created at its full size ({@code segmentBytes} of
 *     zeros, forced with its directory entry) in the background, before the writer rolls over to
 *     it: appends then overwrite allocated blocks, so their fsync needs no file-system metadata
 *     commit, and a roll-over creates no file inline. A segment's records end at the first zeroed
 *     record header; {@link DiskLog#close} cuts the active segment back to its records and deletes
 *     an unused spare. Skipped (the segment is then created inline and grows) while the disk has
 *     less than twice {@code segmentBytes} free.
 * @param gatherNanos once a write arrives and fewer than {@code gatherWrites} are queued, how long
 *     the writer waits for more before it writes and forces them (0: not at all). Group commit then
 *     carries more requests per fsync when the fsync is cheap (a fast disk, or a tmpfs), which cuts
 *     the wake-ups of the writer and of the callers' carrier threads per request; it adds at most
 *     this much to each append's latency
 * @param gatherWrites how many queued writes end the wait at once
 */
public record DiskLogOptions(
    long segmentBytes,
    int maxRecordBytes,
    int maxWriteBytes,
    InstantSource clock,
    ThreadFactory threadFactory,
    LogListener listener,
    boolean preallocate,
    long gatherNanos,
    int gatherWrites) {

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
    if (gatherNanos < 0 || gatherWrites < 1) {
      throw new IllegalArgumentException(
          "gatherNanos must be >= 0 and gatherWrites >= 1, were "
              + gatherNanos
              + ", "
              + gatherWrites);
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
   * platform writer thread named {@code millrace-log-writer}, no listener, preallocated segments, a
   * gather of up to 100 µs or 32 writes}
   */
  public static DiskLogOptions defaults() {
    return new DiskLogOptions(
        64L << 20,
        16 << 20,
        16 << 20,
        InstantSource.system(),
        Thread.ofPlatform().name("millrace-log-writer").factory(),
        LogListener.NONE,
        true,
        100_000,
        32);
  }

  /**
   * {@return these options with another segment size}
   *
   * @param bytes the new size
   */
  public DiskLogOptions withSegmentBytes(long bytes) {
    return new DiskLogOptions(
        bytes,
        maxRecordBytes,
        maxWriteBytes,
        clock,
        threadFactory,
        listener,
        preallocate,
        gatherNanos,
        gatherWrites);
  }

  /**
   * {@return these options with another record limit (and the write limit raised to it if needed)}
   *
   * @param bytes the largest encoded append
   */
  public DiskLogOptions withMaxRecordBytes(int bytes) {
    return new DiskLogOptions(
        segmentBytes,
        bytes,
        Math.max(bytes, maxWriteBytes),
        clock,
        threadFactory,
        listener,
        preallocate,
        gatherNanos,
        gatherWrites);
  }

  /**
   * {@return these options with another clock}
   *
   * @param source the clock
   */
  public DiskLogOptions withClock(InstantSource source) {
    return new DiskLogOptions(
        segmentBytes,
        maxRecordBytes,
        maxWriteBytes,
        source,
        threadFactory,
        listener,
        preallocate,
        gatherNanos,
        gatherWrites);
  }

  /**
   * {@return these options with another thread factory}
   *
   * @param factory makes the writer thread
   */
  public DiskLogOptions withThreadFactory(ThreadFactory factory) {
    return new DiskLogOptions(
        segmentBytes,
        maxRecordBytes,
        maxWriteBytes,
        clock,
        factory,
        listener,
        preallocate,
        gatherNanos,
        gatherWrites);
  }

  /**
   * {@return these options with another listener}
   *
   * @param hooks the listener
   */
  public DiskLogOptions withListener(LogListener hooks) {
    return new DiskLogOptions(
        segmentBytes,
        maxRecordBytes,
        maxWriteBytes,
        clock,
        threadFactory,
        hooks,
        preallocate,
        gatherNanos,
        gatherWrites);
  }

  /**
   * {@return these options with segments preallocated in the background, or not}
   *
   * @param on true to preallocate the next segment (the default)
   */
  public DiskLogOptions withPreallocate(boolean on) {
    return new DiskLogOptions(
        segmentBytes,
        maxRecordBytes,
        maxWriteBytes,
        clock,
        threadFactory,
        listener,
        on,
        gatherNanos,
        gatherWrites);
  }

  /**
   * {@return these options with another gather before each write}
   *
   * @param nanos how long the writer waits for more writes once one arrives (0: not at all)
   * @param writes how many queued writes end that wait
   */
  public DiskLogOptions withGather(long nanos, int writes) {
    return new DiskLogOptions(
        segmentBytes,
        maxRecordBytes,
        maxWriteBytes,
        clock,
        threadFactory,
        listener,
        preallocate,
        nanos,
        writes);
  }
}
