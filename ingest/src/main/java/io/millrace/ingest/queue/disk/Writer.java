package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.RecordFormat.SEGMENT_HEADER_BYTES;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one thread that writes the log: group commit by a single writer.
 *
 * <p>Callers queue writes and wait. The writer takes everything queued (up to {@code
 * maxWriteBytes}), encodes it into one buffer, writes it with one system call per segment it
 * touches, forces it once, publishes the new commit point to readers, and only then completes the
 * callers' futures. While one batch is being forced the next one gathers, so under load each fsync
 * carries as many appends as arrived during the one before it. When fewer than {@code gatherWrites}
 * are queued, the writer first waits up to {@code gatherNanos} for more (a submit that brings the
 * queue to {@code gatherWrites} ends the wait): with a cheap fsync, batches of one or two requests
 * would otherwise cost a wake-up of the writer and of the callers' carriers each.
 *
 * <p>On any failure the batch is rolled back: segments created for it are deleted, the active
 * segment is truncated to the last commit point, positions are given back, and every caller in the
 * batch gets a {@link LogIoException}. If the rollback itself fails, it is retried before the next
 * batch, which fails too until it succeeds; so the log never holds a partial record that a later
 * record follows, and appends succeed again once the cause (a full disk) is gone.
 *
 * <p>Thread ownership: fields below "writer thread only" are touched by the writer thread alone
 * (and by the constructor before it starts).
 */
final class Writer implements Runnable {
  private record Roll(Segment old, long end, FileChannel channel, Segment next) {}

  private final ChannelOpener opener;
  private final DiskLogOptions options;
  private final Tail tail;
  private final Segments segments;
  private final Acks acks;
  private final Path dir;
  private final SpareSegment spare; // null unless options.preallocate()

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition(); // guarded by lock
  private final ArrayDeque<Write> queue = new ArrayDeque<>(); // guarded by lock
  private boolean closing; // guarded by lock

  // writer thread only:
  private FileChannel channel;
  private long nextSegmentNumber;
  private final ByteBuffer buffer;
  private boolean dirty;
  private long lastSampleMillis = Long.MIN_VALUE;

  // written by the writer thread only, read by anyone:
  private volatile long appends;
  private volatile long fsyncs;
  private volatile long fsyncNanos;
  private volatile long writeErrors;
  private volatile String lastError;

  Writer(
      Path dir,
      ChannelOpener opener,
      DiskLogOptions options,
      Tail tail,
      Segments segments,
      Acks acks,
      long nextSegmentNumber)
      throws IOException {
    this.dir = dir;
    this.opener = opener;
    this.options = options;
    this.tail = tail;
    this.segments = segments;
    this.acks = acks;
    this.nextSegmentNumber = nextSegmentNumber;
    this.channel = opener.open(tail.current().segment().path, READ, WRITE);
    this.buffer = ByteBuffer.allocateDirect(options.maxWriteBytes());
    this.spare =
        options.preallocate() ? new SpareSegment(opener, dir, options.segmentBytes()) : null;
  }

  /**
   * Queues a write.
   *
   * @throws LogClosedException if the log is closing
   */
  void submit(Write w) throws LogClosedException {
    lock.lock();
    try {
      if (closing) {
        throw new LogClosedException("local log is closed");
      }
      queue.addLast(w);
      if (queue.size() == 1 || queue.size() == options.gatherWrites()) {
        notEmpty.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  /** {@return true if the write was still queued and is now withdrawn: it will never be written} */
  boolean withdraw(Write w) {
    lock.lock();
    try {
      return queue.removeFirstOccurrence(w);
    } finally {
      lock.unlock();
    }
  }

  /** Stops taking writes; the writer writes what is queued, then ends. */
  void close() {
    lock.lock();
    try {
      closing = true;
      notEmpty.signal();
    } finally {
      lock.unlock();
    }
  }

  long appends() {
    return appends;
  }

  long fsyncs() {
    return fsyncs;
  }

  long fsyncNanos() {
    return fsyncNanos;
  }

  long writeErrors() {
    return writeErrors;
  }

  String lastError() {
    return lastError;
  }

  @Override
  public void run() {
    List<Write> batch = new ArrayList<>();
    Throwable died = null;
    try {
      while (take(batch)) {
        write(batch);
        batch.clear();
      }
    } catch (Throwable t) { // an Error: no write may wait forever for a writer that is gone
      died = t;
      throw t;
    } finally {
      if (died != null) {
        abandon(batch, died);
      }
      if (spare != null) {
        spare.discard();
      }
      trimActive();
      try {
        channel.close();
      } catch (IOException ignored) {
        // the data is forced; nothing is lost by a failing close
      }
    }
  }

  /**
   * Cuts the active segment back to its last record at close, so a log closed cleanly holds no
   * preallocated tail (nor anything of a batch that failed). Not needed for safety: recovery takes
   * a zeroed tail as the end of the records.
   */
  private void trimActive() {
    try {
      long end = tail.current().end();
      if (channel.isOpen() && channel.size() > end) {
        channel.truncate(end);
        channel.force(true);
      }
    } catch (IOException ignored) {
      // the zeros stay; recovery reads them as the end
    }
  }

  /** Fails every write the dead writer still holds or has queued, and refuses later ones. */
  private void abandon(List<Write> taken, Throwable cause) {
    List<Write> all = new ArrayList<>(taken);
    lock.lock();
    try {
      closing = true;
      all.addAll(queue);
      queue.clear();
    } finally {
      lock.unlock();
    }
    for (Write w : all) {
      w.done.completeExceptionally(new LogClosedException("local log writer ended: " + cause));
    }
  }

  /** Waits for writes and takes a batch of them; {@return false once closed and drained} */
  private boolean take(List<Write> batch) {
    lock.lock();
    try {
      do {
        while (queue.isEmpty() && !closing) {
          notEmpty.awaitUninterruptibly(); // the writer is never interrupted: see DiskLog.close
        }
        // gather: a batch that waits a little for more shares its fsync and its wake-ups
        for (long left = options.gatherNanos();
            left > 0 && queue.size() < options.gatherWrites() && !closing; ) {
          try {
            left = notEmpty.awaitNanos(left);
          } catch (InterruptedException e) {
            left = 0; // not expected (see above); the flag is cleared before each write
          }
        }
      } while (queue.isEmpty() && !closing); // everything gathered was withdrawn meanwhile
      long bytes = 0;
      while (!queue.isEmpty()
          && (batch.isEmpty() || bytes + queue.peekFirst().size <= buffer.capacity())) {
        Write w = queue.pollFirst();
        bytes += w.size;
        batch.add(w);
      }
      return !batch.isEmpty();
    } finally {
      lock.unlock();
    }
  }

  private void write(List<Write> batch) {
    Thread.interrupted(); // an interrupt would close the channel mid-write
    Committed start = tail.current();
    Segment segment = start.segment();
    long end = start.end();
    FileChannel ch = channel;
    long position = start.nextPosition();
    long bytes = start.nextByte();
    List<Roll> rolls = new ArrayList<>(0);
    long nanos = 0;
    try {
      if (dirty) {
        repair(start);
        ch = channel;
      }
      buffer.clear();
      for (Write w : batch) {
        long used = end + buffer.position();
        if (used + w.size > options.segmentBytes() && used > SEGMENT_HEADER_BYTES) {
          end += flush(ch, end);
          nanos += force(ch);
          Segment next =
              new Segment(
                  nextSegmentNumber,
                  position,
                  bytes,
                  dir.resolve(RecordFormat.segmentName(nextSegmentNumber)));
          nextSegmentNumber++;
          FileChannel created = openNext(next);
          rolls.add(new Roll(segment, end, ch, next));
          segment = next;
          ch = created;
          end = SEGMENT_HEADER_BYTES;
        }
        w.encode(buffer, position, bytes);
        if (w.key != null) {
          segment.markKeyed(); // before the commit: a rolled-back batch leaves it marked, harmless
        }
        position += w.count();
        bytes += w.count() == 0 ? 0 : w.payloadBytes();
      }
      end += flush(ch, end);
      nanos += force(ch);
    } catch (IOException | RuntimeException e) {
      rollback(start, rolls, ch, batch, e);
      return;
    }
    for (Roll r : rolls) {
      r.old().seal(r.end(), r.next());
      segments.rolled(r.end());
      SegmentFiles.closeQuietly(r.channel(), new IOException("closing a sealed segment"));
    }
    channel = ch;
    tail.publish(new Committed(segment, end, position, bytes));
    int appended = 0;
    for (Write w : batch) {
      if (w.type == RecordFormat.PAYLOADS) {
        appended++;
        if (w.atMillis - lastSampleMillis >= 1000 || lastSampleMillis == Long.MIN_VALUE) {
          acks.sample(w.firstPosition, w.atMillis);
          lastSampleMillis = w.atMillis;
        }
      }
    }
    appends += appended;
    fsyncs += 1 + rolls.size();
    fsyncNanos += nanos;
    lastError = null;
    options.listener().onFsync(nanos, batch.size());
    for (Write w : batch) {
      w.done.complete(w);
    }
    if (spare != null) {
      spare.prepare(nextSegmentNumber); // once per segment number; off this thread
    }
  }

  /**
   * {@return the next segment's file, with its header written}: the spare if one is ready (its
   * header is forced with the records that follow it), else a file created and forced here.
   */
  private FileChannel openNext(Segment next) throws IOException {
    FileChannel ch = spare == null ? null : spare.take(next.number);
    if (ch == null) {
      return SegmentFiles.create(opener, next);
    }
    try {
      SegmentFiles.writeFully(ch, RecordFormat.segmentHeader(next.basePosition, next.baseByte), 0);
      return ch;
    } catch (IOException | RuntimeException e) {
      SegmentFiles.closeQuietly(ch, e); // the rollback deletes the file
      throw e;
    }
  }

  private int flush(FileChannel ch, long at) throws IOException {
    buffer.flip();
    int n = buffer.remaining();
    SegmentFiles.writeFully(ch, buffer, at);
    buffer.clear();
    return n;
  }

  private static long force(FileChannel ch) throws IOException {
    long t0 = System.nanoTime();
    ch.force(false);
    return System.nanoTime() - t0;
  }

  private void rollback(
      Committed start, List<Roll> rolls, FileChannel current, List<Write> batch, Exception e) {
    IOException cause = e instanceof IOException io ? io : new IOException(e);
    if (current != channel) {
      SegmentFiles.closeQuietly(current, cause);
    }
    for (Roll r : rolls) {
      if (r.channel() != channel) {
        SegmentFiles.closeQuietly(r.channel(), cause);
      }
    }
    dirty = true;
    try {
      repair(start);
    } catch (IOException again) {
      cause.addSuppressed(again);
    }
    String what = "writing " + start.segment().name();
    LogIoException failure = new LogIoException(what, cause);
    writeErrors++;
    lastError = failure.getMessage();
    options.listener().onWriteError(failure);
    for (Write w : batch) {
      w.done.completeExceptionally(new LogIoException(what, cause));
    }
  }

  /**
   * Brings the files back to the last commit point: deletes segment files created after it, and
   * truncates the active segment to its committed end.
   */
  private void repair(Committed start) throws IOException {
    long first = start.segment().number + 1;
    for (long n = first; n < nextSegmentNumber; n++) {
      Files.deleteIfExists(dir.resolve(RecordFormat.segmentName(n)));
    }
    nextSegmentNumber = first;
    if (!channel.isOpen()) {
      channel = opener.open(start.segment().path, READ, WRITE);
    }
    if (channel.size() > start.end()) {
      channel.truncate(start.end());
    }
    channel.force(true);
    dirty = false;
  }
}
