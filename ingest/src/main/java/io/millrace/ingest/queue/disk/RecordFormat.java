package io.millrace.ingest.queue.disk;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The on-disk format of the log, in one place. All integers are big-endian.
 *
 * <pre>
 * segment file  NNNNNNNNNNNNNNNNNNNN.log   (20-digit segment number, consecutive)
 *   header (32 bytes)
 *     magic u32 'MLOG' | version u16 = 1 | flags u16 = 0
 *     basePosition i64  (the position of the first payload this segment may hold)
 *     baseByte i64      (payload bytes appended before basePosition)
 *     crc32c u32 of the 24 bytes before it | reserved u32 = 0
 *   records, back to back, until the end of the file
 *
 * record
 *   crc32c u32 of everything after it (length, type, body) | length u32 of body | type u8 | body
 *
 * body of PAYLOADS (one append: one request's payloads, all or nothing)
 *   firstPosition i64 | firstByte i64 | appendedAtMillis i64 | count i32
 *   count x (length i32 | bytes)
 * body of KEYED_PAYLOADS (an append made under an Idempotency-Key; since the window survives restarts)
 *   the body of PAYLOADS | key bytes (UTF-8) | keyLength u16
 *   the key is covered by the record's checksum; appendedAtMillis is its admission time
 * body of CUT (a batch fixed before its upload) and STORED (that batch is stored)
 *   first i64 | last i64 | firstByte i64 | endByte i64 | atMillis i64
 * </pre>
 *
 * <p>A payload's position is its index among all payloads ever appended (dense, from 0); its byte
 * offset is the sum of the lengths of all payloads before it, so the bytes of any range {@code [a,
 * b]} are {@code byte(b + 1) - byte(a)}. Control records take no position.
 */
final class RecordFormat {
  static final int SEGMENT_MAGIC = 0x4D4C4F47; // "MLOG"
  static final short VERSION = 1;
  static final int SEGMENT_HEADER_BYTES = 32;
  static final int RECORD_HEADER_BYTES = 9;
  static final byte PAYLOADS = 1;
  static final byte CUT = 2;
  static final byte STORED = 3;
  static final byte KEYED_PAYLOADS = 4;
  static final int MAX_KEY_BYTES = 0xFFFF;
  static final int PAYLOADS_FIXED_BYTES = 28;
  static final int RANGE_BODY_BYTES = 40;
  static final String SUFFIX = ".log";

  private RecordFormat() {}

  static String segmentName(long number) {
    return String.format("%020d", number) + SUFFIX;
  }

  /** {@return the segment number of a file name, or -1 if it is not a segment's name} */
  static long segmentNumber(String fileName) {
    if (fileName.length() != 20 + SUFFIX.length() || !fileName.endsWith(SUFFIX)) {
      return -1;
    }
    for (int i = 0; i < 20; i++) {
      if (!Character.isDigit(fileName.charAt(i))) {
        return -1;
      }
    }
    return Long.parseLong(fileName, 0, 20, 10);
  }

  static ByteBuffer segmentHeader(long basePosition, long baseByte) {
    ByteBuffer b = ByteBuffer.allocate(SEGMENT_HEADER_BYTES);
    b.putInt(SEGMENT_MAGIC).putShort(VERSION).putShort((short) 0);
    b.putLong(basePosition).putLong(baseByte);
    b.putInt(crc(b, 0, 24)).putInt(0);
    return b.flip();
  }

  /**
   * Checks a segment header.
   *
   * @return null if it is valid, else what is wrong with it
   */
  static String checkSegmentHeader(ByteBuffer b) {
    if (b.remaining() < SEGMENT_HEADER_BYTES) {
      return "short segment header";
    }
    int p = b.position();
    if (b.getInt(p) != SEGMENT_MAGIC) {
      return "no segment magic";
    }
    if (b.getShort(p + 4) != VERSION) {
      return "unknown format version " + b.getShort(p + 4);
    }
    if (b.getInt(p + 24) != crc(b, p, p + 24)) {
      return "segment header checksum mismatch";
    }
    return null;
  }

  static long headerBasePosition(ByteBuffer b) {
    return b.getLong(b.position() + 8);
  }

  static long headerBaseByte(ByteBuffer b) {
    return b.getLong(b.position() + 16);
  }

  /** {@return the encoded size of a PAYLOADS record holding these payloads} */
  static long payloadsRecordBytes(java.util.List<byte[]> payloads) {
    return payloadsRecordBytes(payloads, null);
  }

  /**
   * {@return the encoded size of the record of an append of these payloads: KEYED_PAYLOADS if
   * {@code key} is not null, else PAYLOADS}
   */
  static long payloadsRecordBytes(java.util.List<byte[]> payloads, byte[] key) {
    long size = RECORD_HEADER_BYTES + PAYLOADS_FIXED_BYTES + keyTrailerBytes(key);
    for (byte[] p : payloads) {
      size += 4L + p.length;
    }
    return size;
  }

  /** {@return the bytes a key adds to an append's record (0 without a key)} */
  static int keyTrailerBytes(byte[] key) {
    return key == null ? 0 : key.length + 2;
  }

  /** {@return whether a record of this type holds payloads (PAYLOADS or KEYED_PAYLOADS)} */
  static boolean holdsPayloads(byte type) {
    return type == PAYLOADS || type == KEYED_PAYLOADS;
  }

  /**
   * Encodes a PAYLOADS record at the buffer's position, or a KEYED_PAYLOADS record if {@code key}
   * is not null (at most {@value #MAX_KEY_BYTES} bytes).
   */
  static void putPayloads(
      ByteBuffer out,
      java.util.List<byte[]> payloads,
      long firstPosition,
      long firstByte,
      long appendedAtMillis,
      byte[] key) {
    int start = out.position();
    out.putInt(0).putInt(0).put(key == null ? PAYLOADS : KEYED_PAYLOADS);
    out.putLong(firstPosition).putLong(firstByte).putLong(appendedAtMillis);
    out.putInt(payloads.size());
    for (byte[] p : payloads) {
      out.putInt(p.length).put(p);
    }
    if (key != null) {
      out.put(key).putShort((short) key.length);
    }
    seal(out, start);
  }

  /**
   * {@return the PAYLOADS part of a KEYED_PAYLOADS body (the body without its key), or null if the
   * key's length does not fit}
   */
  static ByteBuffer payloadsPart(ByteBuffer keyedBody) {
    int limit = keyedBody.limit();
    if (limit < PAYLOADS_FIXED_BYTES + 2) {
      return null;
    }
    int keyLength = keyedBody.getShort(limit - 2) & 0xFFFF;
    int end = limit - 2 - keyLength;
    return end < PAYLOADS_FIXED_BYTES ? null : keyedBody.slice(0, end);
  }

  /** {@return the key of a well-formed KEYED_PAYLOADS body} */
  static String key(ByteBuffer keyedBody) {
    int limit = keyedBody.limit();
    int keyLength = keyedBody.getShort(limit - 2) & 0xFFFF;
    byte[] key = new byte[keyLength];
    keyedBody.get(limit - 2 - keyLength, key);
    return new String(key, java.nio.charset.StandardCharsets.UTF_8);
  }

  /** Encodes a CUT or STORED record at the buffer's position. */
  static void putRange(ByteBuffer out, byte type, BatchRange r, long atMillis) {
    int start = out.position();
    out.putInt(0).putInt(0).put(type);
    out.putLong(r.first()).putLong(r.last()).putLong(r.firstByte()).putLong(r.endByte());
    out.putLong(atMillis);
    seal(out, start);
  }

  private static void seal(ByteBuffer out, int start) {
    int end = out.position();
    out.putInt(start + 4, end - start - RECORD_HEADER_BYTES);
    out.putInt(start, crc(out, start + 4, end));
  }

  /** {@return the range in a CUT or STORED body; its cutAtMillis is the record's time} */
  static BatchRange range(ByteBuffer body) {
    return new BatchRange(
        body.getLong(0), body.getLong(8), body.getLong(16), body.getLong(24), body.getLong(32));
  }

  /**
   * Checks the structure of a PAYLOADS body: the lengths add up to the body's length.
   *
   * @return null if it is well formed, else what is wrong
   */
  static String checkPayloads(ByteBuffer body) {
    if (body.limit() < PAYLOADS_FIXED_BYTES) {
      return "short payloads record";
    }
    int count = body.getInt(24);
    long at = PAYLOADS_FIXED_BYTES;
    for (int i = 0; i < count && at + 4 <= body.limit(); i++) {
      int len = body.getInt((int) at);
      if (len < 0) {
        return "negative payload length";
      }
      at += 4L + len;
    }
    return count < 1 || at != body.limit() ? "payload lengths do not add up" : null;
  }

  /** {@return the sum of the payload lengths in a well-formed PAYLOADS body} */
  static long payloadBytes(ByteBuffer body) {
    int count = body.getInt(24);
    return body.limit() - PAYLOADS_FIXED_BYTES - 4L * count;
  }

  /** {@return the CRC32C of {@code b[from, to)}, leaving the buffer's position and limit alone} */
  static int crc(ByteBuffer b, int from, int to) {
    CRC32C c = new CRC32C();
    c.update(b.slice(from, to - from));
    return (int) c.getValue();
  }
}
