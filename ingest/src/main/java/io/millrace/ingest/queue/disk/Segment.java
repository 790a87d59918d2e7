package io.millrace.ingest.queue.disk;

import java.nio.file.Path;

/**
 * One segment file. Segments form a chain in log order; the writer appends to the last one and
 * links the next when it rolls over, readers follow the links, and acknowledgements delete from the
 * front.
 *
 * <p>{@link #sealedEnd} and {@link #next} are written once, by the writer thread, when the
 * roll-over is committed: {@code sealedEnd} first, then {@code next}, then the new commit point; so
 * a reader that sees a commit point past this segment sees both.
 */
final class Segment {
  final long number;
  final long basePosition;
  final long baseByte;
  final Path path;
  private volatile long sealedEnd = -1;
  private volatile Segment next;
  private volatile boolean keyed;

  Segment(long number, long basePosition, long baseByte, Path path) {
    this.number = number;
    this.basePosition = basePosition;
    this.baseByte = baseByte;
    this.path = path;
  }

  String name() {
    return path.getFileName().toString();
  }

  void seal(long end, Segment successor) {
    sealedEnd = end;
    next = successor;
  }

  /** {@return the size of this sealed segment, or -1 while it is the active one} */
  long sealedEnd() {
    return sealedEnd;
  }

  /**
   * Notes that a record kept under an {@code Idempotency-Key} was written to this segment (by the
   * writer, or by recovery at open): only such segments are worth keeping once stored.
   */
  void markKeyed() {
    keyed = true;
  }

  /** {@return whether a keyed record was written to this segment} */
  boolean keyed() {
    return keyed;
  }

  /** {@return the next segment, or null while this is the active one} */
  Segment next() {
    return next;
  }

  @Override
  public String toString() {
    return name() + "@" + basePosition;
  }
}
