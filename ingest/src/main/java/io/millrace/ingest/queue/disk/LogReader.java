package io.millrace.ingest.queue.disk;

import static java.nio.file.StandardOpenOption.READ;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.time.Duration;

/**
 * Reads payloads from the log in position order, from a starting position on, following the tail:
 * {@link #next} blocks while there is nothing new. It sees only durable payloads (up to the last
 * commit point), so nothing it hands out can vanish in a crash. Control records are skipped.
 *
 * <p>Holds one open segment file and one read buffer (256 KiB, or one record if larger); never more
 * than that, whatever the backlog. Not thread-safe: one reader per consuming thread.
 */
public final class LogReader implements AutoCloseable {
  private final Tail tail;
  private final ChannelOpener opener;
  private final DiskLogOptions options;
  private Segment segment;
  private FileChannel channel;
  private RecordScanner scanner;
  private long nextPosition; // the next payload this reader hands out
  // the PAYLOADS record being handed out:
  private ByteBuffer body;
  private int bodyAt;
  private long recordPosition; // position of the payload at bodyAt
  private long recordByte; // its byte offset
  private long recordMillis;
  private int left; // payloads of the record not yet handed out or skipped

  LogReader(
      Tail tail, Segment segment, long fromPosition, ChannelOpener opener, DiskLogOptions options)
      throws IOException {
    this.tail = tail;
    this.opener = opener;
    this.options = options;
    this.nextPosition = fromPosition;
    open(segment, RecordFormat.SEGMENT_HEADER_BYTES);
  }

  private void open(Segment s, long offset) throws IOException {
    FileChannel ch = opener.open(s.path, READ);
    if (channel != null) {
      channel.close();
    }
    segment = s;
    channel = ch;
    scanner = new RecordScanner(ch, offset, offset, options.maxRecordBytes());
  }

  /** {@return the position of the next payload this reader hands out} */
  public long position() {
    return nextPosition;
  }

  /**
   * Hands out the next payload, waiting up to {@code timeout} for one to be appended.
   *
   * @param timeout how long to wait while there is nothing new; zero to only look
   * @return the payload, or null if none came in time
   * @throws LogClosedException the log is closed and everything durable has been read
   * @throws InterruptedException interrupted on entry, while waiting or while reading (the flag is
   *     cleared); the reader stays usable and resumes where it was
   * @throws IOException a record no longer reads back as written (disk damage)
   */
  public LogEntry next(Duration timeout)
      throws IOException, InterruptedException, LogClosedException {
    if (Thread.interrupted()) {
      throw new InterruptedException("interrupted before reading the local log");
    }
    long nanos = timeout.toNanos();
    while (true) {
      if (left > 0) {
        LogEntry e = take();
        if (e != null) {
          return e;
        }
        continue;
      }
      Committed c = tail.current();
      boolean active = segment == c.segment();
      scanner.extend(active ? c.end() : segment.sealedEnd());
      RecordScanner.Step step = scan();
      if (step == RecordScanner.Step.RECORD) {
        if (RecordFormat.holdsPayloads(scanner.type())) {
          load(scanner.body());
        }
      } else if (step == RecordScanner.Step.BAD) {
        throw new IOException(
            "local log: "
                + segment.name()
                + " at offset "
                + scanner.recordOffset()
                + ": "
                + scanner.problem());
      } else if (!active) {
        open(segment.next(), RecordFormat.SEGMENT_HEADER_BYTES);
      } else if (tail.isClosed() && tail.current() == c) {
        throw new LogClosedException("local log is closed; everything was read");
      } else if (nanos <= 0) {
        return null;
      } else {
        nanos = tail.await(c, nanos);
        if (nanos <= 0 && tail.current() == c) {
          return null;
        }
      }
    }
  }

  private RecordScanner.Step scan() throws IOException, InterruptedException {
    try {
      return scanner.next();
    } catch (ClosedByInterruptException e) {
      // the interrupt closed the file; reopen it where this reader was, then report the interrupt
      long offset = scanner.offset();
      long limit = scanner.limit();
      channel = null;
      Thread.interrupted();
      open(segment, offset);
      scanner.extend(limit);
      throw new InterruptedException("interrupted while reading the local log");
    }
  }

  private void load(ByteBuffer b) {
    body = b;
    recordPosition = b.getLong(0);
    recordByte = b.getLong(8);
    recordMillis = b.getLong(16);
    left = b.getInt(24);
    bodyAt = RecordFormat.PAYLOADS_FIXED_BYTES;
  }

  /** {@return the record's next payload, or null if it lies before the starting position} */
  private LogEntry take() {
    int length = body.getInt(bodyAt);
    long position = recordPosition++;
    long byteOffset = recordByte;
    recordByte += length;
    left--;
    int from = bodyAt + 4;
    bodyAt = from + length;
    if (position < nextPosition) {
      return null;
    }
    byte[] payload = new byte[length];
    body.get(from, payload);
    nextPosition = position + 1;
    return new LogEntry(position, byteOffset, recordMillis, payload);
  }

  /** Closes the segment file this reader holds. */
  @Override
  public void close() throws IOException {
    if (channel != null) {
      channel.close();
    }
  }
}
