package io.millrace.ingest.queue.disk;

/**
 * One payload read back from the log.
 *
 * @param position the payload's position (dense, from 0, in append order)
 * @param byteOffset payload bytes appended before this one
 * @param appendedAtMillis when its append was written (epoch milliseconds); the same for every
 *     payload of one append, and stable across restarts, so keys may derive from it
 * @param payload the bytes exactly as appended; callers must not modify them
 */
public record LogEntry(long position, long byteOffset, long appendedAtMillis, byte[] payload) {

  /** {@return payload bytes appended up to and including this one} */
  public long endByte() {
    return byteOffset + payload.length;
  }
}
