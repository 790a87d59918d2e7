package io.millrace.ingest.queue.disk;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One write waiting for the writer: an append (a PAYLOADS record) or a control record (CUT,
 * STORED). Its future completes once the write is forced to disk, or fails with a {@link
 * LogException}.
 */
final class Write {
  final byte type;
  final List<byte[]> payloads; // PAYLOADS only
  final byte[] key; // PAYLOADS under an Idempotency-Key (encoded as KEYED_PAYLOADS), else null
  final BatchRange range; // CUT and STORED only
  final long atMillis;
  final int size; // encoded bytes
  final CompletableFuture<Write> done = new CompletableFuture<>();
  long firstPosition; // set by the writer, read after done completes
  long firstByte; // set by the writer, read after done completes

  private Write(
      byte type, List<byte[]> payloads, byte[] key, BatchRange range, long atMillis, long size) {
    this.type = type;
    this.payloads = payloads;
    this.key = key;
    this.range = range;
    this.atMillis = atMillis;
    this.size = (int) size;
  }

  static Write append(List<byte[]> payloads, long atMillis, long size) {
    return append(payloads, null, atMillis, size);
  }

  /** An append whose record keeps {@code key} (UTF-8, or null for none). */
  static Write append(List<byte[]> payloads, byte[] key, long atMillis, long size) {
    return new Write(RecordFormat.PAYLOADS, payloads, key, null, atMillis, size);
  }

  static Write control(byte type, BatchRange range, long atMillis) {
    return new Write(
        type,
        null,
        null,
        range,
        atMillis,
        RecordFormat.RECORD_HEADER_BYTES + RecordFormat.RANGE_BODY_BYTES);
  }

  int count() {
    return payloads == null ? 0 : payloads.size();
  }

  long payloadBytes() {
    return size
        - RecordFormat.RECORD_HEADER_BYTES
        - RecordFormat.PAYLOADS_FIXED_BYTES
        - RecordFormat.keyTrailerBytes(key)
        - 4L * count();
  }

  /** Encodes the record at {@code out}'s position, taking the next position and byte offset. */
  void encode(ByteBuffer out, long position, long byteOffset) {
    firstPosition = position;
    firstByte = byteOffset;
    if (type == RecordFormat.PAYLOADS) {
      RecordFormat.putPayloads(out, payloads, position, byteOffset, atMillis, key);
    } else {
      RecordFormat.putRange(out, type, range, atMillis);
    }
  }
}
