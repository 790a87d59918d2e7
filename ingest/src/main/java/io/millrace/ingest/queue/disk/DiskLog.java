package io.millrace.ingest.queue.disk;

import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A durable, append-only log of admitted requests in a folder of segment files, with group commit,
 * batch cuts and out-of-order acknowledgements. The format is described in {@code RecordFormat}.
 *
 * <p>Life of a payload: {@link #append} writes one request's payloads as one checksummed record and
 * returns once it is forced to disk (concurrent appends share one fsync); a {@link LogReader} hands
 * it out; the batcher fixes a batch with {@link #cut} before uploading it (the batch's key derives
 * from its {@link BatchRange}); after the upload {@link #markStored} records it stored. A segment
 * file is deleted once every payload in it is stored (and, if it holds a keyed append and {@link
 * #retainStored} is set, once its last write is that old). After a crash, {@link #open} reports the
 * batches cut and not stored and the first payload not yet cut, so the same batches are rebuilt
 * under the same keys.
 *
 * <p>Thread-safe. Every write blocks until it is durable or its timeout passes; none holds a lock
 * while it waits except {@link #cut}, which is serialized (cuts must follow each other). Nothing in
 * the heap grows with the backlog on disk: the log keeps only pending batches' ranges, ranges
 * stored out of order, and one time sample per second of unstored backlog.
 *
 * <p>The log holds two platform threads from {@link #open} to {@link #close}, the writer and the
 * one that keeps the waiting callers' deadlines ({@link Deadlines}); and an exclusive lock on
 * {@code LOCK} in its folder, so no second process opens it at the same time.
 */
public final class DiskLog implements AutoCloseable {
  private final Path dir;
  private final ChannelOpener opener;
  private final DiskLogOptions options;
  private final FileChannel lockFile;
  private final FileLock folderLock;
  private final Tail tail;
  private final Segments segments;
  private final Acks acks;
  private final Writer writer;
  private final Thread writerThread;
  private final Deadlines deadlines = new Deadlines();
  private final Thread deadlinesThread;
  private final RecoveryReport recovery;
  private final ReentrantLock cutLock = new ReentrantLock(); // held while a cut is written
  private final List<Recovery.KeyedAppend> recoveredKeys;
  private final ReentrantLock retireLock = new ReentrantLock();
  // guarded by retireLock: unlinked (stored) segments whose files are kept a while, oldest first
  private final java.util.ArrayDeque<Segment> retired = new java.util.ArrayDeque<>();
  private volatile long retainStoredMillis;

  private DiskLog(
      Path dir,
      ChannelOpener opener,
      DiskLogOptions options,
      FileChannel lockFile,
      FileLock lock,
      Recovery.Recovered state)
      throws IOException {
    this.dir = dir;
    this.opener = opener;
    this.options = options;
    this.lockFile = lockFile;
    this.folderLock = lock;
    this.recovery = state.report();
    this.recoveredKeys = state.keys();
    this.tail =
        new Tail(
            new Committed(
                state.active(), state.activeEnd(), state.nextPosition(), state.nextByte()));
    this.segments = state.segments();
    this.acks = state.acks();
    this.writer = new Writer(dir, opener, options, tail, segments, acks, state.nextSegmentNumber());
    this.writerThread = options.threadFactory().newThread(writer);
    writerThread.start();
    this.deadlinesThread = options.threadFactory().newThread(deadlines);
    deadlinesThread.start();
  }

  /**
   * Opens (or creates) the log in {@code dir}, recovering it: every record is checked, a torn tail
   * is cut off, and what is left to store is reported by {@link #recovery()}.
   *
   * @param dir the log's folder, created if missing
   * @param options segment size, clock, writer thread, listener
   * @return the open log
   * @throws LogCorruptedException if a segment other than the last is damaged
   * @throws IOException if the folder cannot be read or written, or another process has it open
   */
  public static DiskLog open(Path dir, DiskLogOptions options) throws IOException {
    return open(dir, options, ChannelOpener.DEFAULT);
  }

  static DiskLog open(Path dir, DiskLogOptions options, ChannelOpener opener) throws IOException {
    Objects.requireNonNull(options, "options");
    Files.createDirectories(dir);
    FileChannel lockFile = FileChannel.open(dir.resolve("LOCK"), CREATE, WRITE);
    try {
      FileLock lock;
      try {
        lock = lockFile.tryLock();
      } catch (java.nio.channels.OverlappingFileLockException e) {
        lock = null; // held by this process
      }
      if (lock == null) {
        throw new IOException("local log " + dir + " is open in another process");
      }
      Recovery.Recovered state = Recovery.run(dir, opener, options);
      if (state == null) {
        state = fresh(dir, opener);
      }
      return new DiskLog(dir, opener, options, lockFile, lock, state);
    } catch (IOException | RuntimeException | Error e) {
      SegmentFiles.closeQuietly(lockFile, e);
      throw e;
    }
  }

  private static Recovery.Recovered fresh(Path dir, ChannelOpener opener) throws IOException {
    Segment first = new Segment(0, 0, 0, dir.resolve(RecordFormat.segmentName(0)));
    SegmentFiles.create(opener, first).close();
    Acks acks = new Acks(0, 0);
    RecoveryReport report =
        new RecoveryReport(1, 0, 0, 0, 0, List.of(), 0, 0, Optional.empty(), List.of());
    return new Recovery.Recovered(
        new Segments(first, 1, 0),
        first,
        RecordFormat.SEGMENT_HEADER_BYTES,
        0,
        0,
        1,
        acks,
        report,
        List.of());
  }

  /** {@return what opening found: torn tail, batches to rebuild, where uncut payloads start} */
  public RecoveryReport recovery() {
    return recovery;
  }

  /**
   * Appends one request's payloads as one record: all of them or none, in the order given, durable
   * (forced to disk) before this returns. Concurrent appends share one fsync.
   *
   * <p>On an interrupt while the write is still queued it is withdrawn and {@link
   * InterruptedException} is thrown. Once the writer has taken it, this keeps waiting (up to the
   * timeout) for the outcome, reports it, and re-sets the interrupt flag.
   *
   * @param payloads the payloads, at least one
   * @param timeout how long to wait for durability
   * @return the positions the payloads got
   * @throws LogIoException the write failed (disk full, I/O error) and is rolled back: nothing of
   *     it is in the log
   * @throws LogTimeoutException not durable in time (see {@link LogTimeoutException#mayBeWritten})
   * @throws LogClosedException the log is closed
   * @throws InterruptedException interrupted while the write was still queued; it was withdrawn
   * @throws IllegalArgumentException no payloads, or more than {@code maxRecordBytes} encoded
   */
  public Positions append(List<byte[]> payloads, Duration timeout)
      throws LogException, InterruptedException {
    return append(payloads, null, timeout);
  }

  /**
   * Appends as {@link #append(List, Duration)}, keeping {@code key} in the record (with the
   * append's time), so that {@link #recoveredKeys()} reports it after a restart while its segment
   * is on disk.
   *
   * @param key the request's {@code Idempotency-Key}, at most {@value RecordFormat#MAX_KEY_BYTES}
   *     bytes in UTF-8; or null for none
   * @throws IllegalArgumentException also if the key is too long
   */
  Positions append(List<byte[]> payloads, String key, Duration timeout)
      throws LogException, InterruptedException {
    if (payloads.isEmpty()) {
      throw new IllegalArgumentException("an append holds at least one payload");
    }
    byte[] keyBytes = key == null ? null : key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    if (keyBytes != null && keyBytes.length > RecordFormat.MAX_KEY_BYTES) {
      throw new IllegalArgumentException("key of " + keyBytes.length + " bytes is too long");
    }
    long size = RecordFormat.payloadsRecordBytes(payloads, keyBytes);
    if (size > options.maxRecordBytes()) {
      throw new IllegalArgumentException(
          "append of " + size + " bytes is over maxRecordBytes " + options.maxRecordBytes());
    }
    Write w =
        Waits.await(
            writer,
            deadlines,
            Write.append(List.copyOf(payloads), keyBytes, options.clock().millis(), size),
            timeout,
            false);
    return new Positions(w.firstPosition, payloads.size());
  }

  /**
   * Fixes the next batch: payloads {@code first.position() .. last.position()}, durable before this
   * returns. Batches follow each other without gaps, from {@link #firstUncutPosition()} on; so cuts
   * are serialized, and a batch's content and name are the same after any crash.
   *
   * <p>A cut still queued when the timeout passes (or on an interrupt) is withdrawn and {@link
   * LogTimeoutException} is thrown; once the writer has taken it, this waits for its outcome past
   * the timeout (deferring an interrupt), so a cut is never left half-known. The same holds for
   * {@link #markStored}.
   *
   * @param first the batch's first payload, at {@link #firstUncutPosition()}
   * @param last its last payload, read from this log
   * @param timeout how long to wait for durability
   * @return the batch, pending until {@link #markStored}
   * @throws IllegalArgumentException if the batch does not start where the last one ended
   */
  public BatchRange cut(LogEntry first, LogEntry last, Duration timeout)
      throws LogException, InterruptedException {
    cutLock.lockInterruptibly();
    try {
      long next = acks.nextCut();
      if (first.position() != next || last.position() < first.position()) {
        throw new IllegalArgumentException(
            "a batch must start at "
                + next
                + ": ["
                + first.position()
                + ", "
                + last.position()
                + "]");
      }
      if (last.position() >= tail.current().nextPosition()) {
        throw new IllegalArgumentException("position " + last.position() + " is not in the log");
      }
      long now = options.clock().millis();
      BatchRange range =
          new BatchRange(
              first.position(), last.position(), first.byteOffset(), last.endByte(), now);
      Waits.await(writer, deadlines, Write.control(RecordFormat.CUT, range, now), timeout, true);
      acks.cut(range);
      return range;
    } finally {
      cutLock.unlock();
    }
  }

  /**
   * Records a pending batch as stored, durably; then deletes every segment whose payloads are all
   * stored. Batches may be marked in any order.
   *
   * @param range a batch from {@link #cut} or {@link RecoveryReport#pendingCuts()}, marked once
   * @param timeout how long to wait for durability
   * @throws IllegalArgumentException if the range is not a pending batch
   */
  public void markStored(BatchRange range, Duration timeout)
      throws LogException, InterruptedException {
    acks.claim(range);
    boolean written = false;
    try {
      Waits.await(
          writer,
          deadlines,
          Write.control(RecordFormat.STORED, range, options.clock().millis()),
          timeout,
          true);
      written = true;
    } finally {
      if (!written) {
        acks.unclaim(range);
      }
    }
    long watermark = acks.stored(range);
    List<Segment> gone = segments.removeStored(watermark);
    long now = options.clock().millis();
    retireLock.lock();
    try {
      retired.addAll(gone);
      // oldest first: the files left must stay one unbroken chain (Recovery refuses a gap), so a
      // keyed segment within the retention keeps those after it too
      while (!retired.isEmpty() && oldEnough(retired.peekFirst(), now)) {
        Segment s = retired.pollFirst();
        try {
          Files.deleteIfExists(s.path);
          options.listener().onSegmentDeleted(s.name(), s.sealedEnd());
        } catch (IOException e) {
          // stored and unlinked; a file left behind is recovered as stored and deleted again later
        }
      }
    } finally {
      retireLock.unlock();
    }
  }

  /** {@return whether a stored segment's file was last written at least the retention ago} */
  private boolean oldEnough(Segment s, long now) {
    long keep = retainStoredMillis;
    if (keep <= 0 || !s.keyed()) {
      return true; // only the keys are read back after a restart: a segment without one goes now
    }
    try {
      return now - Files.getLastModifiedTime(s.path).toMillis() >= keep;
    } catch (IOException e) {
      return true; // gone already, or unreadable: nothing to keep
    }
  }

  /**
   * Keeps the files of stored segments that hold a keyed append until their last write is {@code
   * millis} old (by this log's clock against the file's modification time), so that the keys of the
   * appends in them are read back after a restart within that time. Checked when a batch is
   * recorded stored; a stored segment without a key, and every stored segment when this is 0 (the
   * default), is deleted at once.
   */
  void retainStored(long millis) {
    retainStoredMillis = millis;
  }

  /**
   * {@return the keyed appends found in the segments on disk at open, in log order (at most the
   * latest {@link io.millrace.ingest.queue.memory.IdempotencyWindow#MAX_KEYS})}
   */
  List<Recovery.KeyedAppend> recoveredKeys() {
    return recoveredKeys;
  }

  /**
   * Opens a reader at {@code fromPosition}: it hands out every payload from there on, following the
   * tail. Readers see only durable payloads. Close it when done.
   *
   * @param fromPosition where to start, from the first kept segment up to {@link
   *     LogStats#nextPosition()}
   * @return the reader
   */
  public LogReader reader(long fromPosition) throws IOException {
    if (fromPosition > tail.current().nextPosition()) {
      throw new IllegalArgumentException("position " + fromPosition + " is past the end");
    }
    return new LogReader(tail, segments.find(fromPosition), fromPosition, opener, options);
  }

  /**
   * {@return the first position still in the log's files: every payload before it is stored and its
   * segment deleted}
   */
  public long firstPosition() {
    return segments.first().basePosition;
  }

  /** {@return the first position not in any batch: where the next {@link #cut} starts} */
  public long firstUncutPosition() {
    return acks.nextCut();
  }

  /** {@return batches cut and not yet marked stored, in log order} */
  public List<BatchRange> pendingCuts() {
    return acks.pending();
  }

  /** {@return payloads appended and not yet stored (the admission budget's count)} */
  public long unstoredPayloads() {
    return acks.unstoredPayloads(tail.current().nextPosition());
  }

  /** {@return payload bytes appended and not yet stored (the admission budget's bytes)} */
  public long unstoredBytes() {
    return acks.unstoredBytes(tail.current().nextByte());
  }

  /** {@return a snapshot of the counters} */
  public LogStats stats() {
    Committed c = tail.current();
    return new LogStats(
        segments.count(),
        segments.bytes(c),
        c.nextPosition(),
        writer.appends(),
        writer.fsyncs(),
        writer.fsyncNanos(),
        writer.writeErrors(),
        acks.unstoredPayloads(c.nextPosition()),
        acks.unstoredBytes(c.nextByte()),
        acks.oldestUnstoredAgeMillis(c.nextPosition(), options.clock().millis()),
        writer.lastError());
  }

  /** {@return the largest encoded append this log takes} */
  int maxRecordBytes() {
    return options.maxRecordBytes();
  }

  /** {@return the log's folder} */
  public Path directory() {
    return dir;
  }

  /**
   * Closes the log: later writes fail with {@link LogClosedException}, writes already queued are
   * written and forced, the writer thread ends, and readers end with {@link LogClosedException}
   * once they have read everything. Returns only after the writer thread has ended; an interrupt
   * meanwhile does not cut that short and is re-asserted on return. Idempotent.
   */
  @Override
  public void close() {
    writer.close();
    boolean interrupted = false;
    while (writerThread.isAlive()) {
      try {
        writerThread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    deadlines.stop(deadlinesThread); // every write's outcome is known: no wait needs a deadline
    while (deadlinesThread.isAlive()) {
      try {
        deadlinesThread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    tail.close();
    try {
      folderLock.release();
    } catch (IOException ignored) {
      // closing the channel below releases it too
    }
    SegmentFiles.closeQuietly(lockFile, new IOException("closing the lock file"));
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
