package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.RecordFormat.RECORD_HEADER_BYTES;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Reads the records of one segment file in order, through one buffer, checking each record's length
 * and checksum. Used by recovery (up to the file's end) and by readers (up to the commit point).
 * Not thread-safe: one owner.
 *
 * <p>After {@link #next()} returns {@link Step#RECORD}, {@link #type()} and {@link #body()}
 * describe the record; the body is a view of the buffer, valid until the next call.
 */
final class RecordScanner {
  private static final int BUFFER_BYTES = 256 << 10;

  enum Step {
    RECORD,
    END,
    BAD
  }

  private final FileChannel channel;
  private final int maxRecordBytes;
  private ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES).limit(0);
  private long bufferStart; // file offset of buffer[0]
  private long offset; // file offset of the next record
  private long limit; // the scanner reads nothing at or past this offset
  private long recordOffset;
  private byte type;
  private ByteBuffer body;
  private String problem;

  RecordScanner(FileChannel channel, long offset, long limit, int maxRecordBytes) {
    this.channel = channel;
    this.offset = offset;
    this.bufferStart = offset;
    this.limit = limit;
    this.maxRecordBytes = maxRecordBytes;
  }

  /** Lets the scanner read further, up to a new commit point. */
  void extend(long newLimit) {
    limit = Math.max(limit, newLimit);
  }

  long offset() {
    return offset;
  }

  long limit() {
    return limit;
  }

  long recordOffset() {
    return recordOffset;
  }

  byte type() {
    return type;
  }

  ByteBuffer body() {
    return body;
  }

  String problem() {
    return problem;
  }

  /**
   * Reads the record at the current offset.
   *
   * @return RECORD (then the offset has moved past it), END at the limit, or BAD with {@link
   *     #problem()} set and the offset left at the bad record
   */
  Step next() throws IOException {
    body = null;
    if (offset >= limit) {
      return Step.END;
    }
    recordOffset = offset;
    if (limit - offset < RECORD_HEADER_BYTES || !fill(RECORD_HEADER_BYTES)) {
      return bad("short record header");
    }
    int at = (int) (offset - bufferStart);
    int crc = buffer.getInt(at);
    int length = buffer.getInt(at + 4);
    if (length < 0 || length > maxRecordBytes - RECORD_HEADER_BYTES) {
      return bad("record length " + Integer.toUnsignedString(length) + " out of range");
    }
    int total = RECORD_HEADER_BYTES + length;
    if (limit - offset < total) {
      return bad("record of " + total + " bytes runs past the end at " + limit);
    }
    if (!fill(total)) {
      return bad("short read");
    }
    at = (int) (offset - bufferStart);
    if (RecordFormat.crc(buffer, at + 4, at + total) != crc) {
      return bad("checksum mismatch");
    }
    type = buffer.get(at + 8);
    body = buffer.slice(at + RECORD_HEADER_BYTES, length);
    offset += total;
    return Step.RECORD;
  }

  private Step bad(String what) {
    problem = what;
    return Step.BAD;
  }

  /** Makes {@code n} bytes from the current offset available in the buffer. */
  private boolean fill(int n) throws IOException {
    long have = bufferStart + buffer.limit() - offset;
    if (offset >= bufferStart && have >= n) {
      return true;
    }
    if (buffer.capacity() < n) {
      buffer = ByteBuffer.allocate(n);
    } else if (buffer.capacity() > BUFFER_BYTES && n <= BUFFER_BYTES) {
      buffer = ByteBuffer.allocate(BUFFER_BYTES); // give a large record's buffer back
    }
    buffer.clear();
    bufferStart = offset;
    int want = (int) Math.min(buffer.capacity(), limit - offset);
    buffer.limit(want);
    while (buffer.hasRemaining()) {
      int read = channel.read(buffer, bufferStart + buffer.position());
      if (read < 0) {
        break;
      }
    }
    buffer.flip();
    return buffer.limit() >= n;
  }
}
