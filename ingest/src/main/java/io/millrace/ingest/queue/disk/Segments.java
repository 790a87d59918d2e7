package io.millrace.ingest.queue.disk;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The chain of segments from the oldest kept one ({@code head}) to the active one, with the counts
 * that metrics need. The writer grows it at the tail; {@link #removeStored} cuts it at the head.
 */
final class Segments {
  private final ReentrantLock lock = new ReentrantLock();
  private Segment head; // guarded by lock
  private int count; // guarded by lock
  private long sealedBytes; // guarded by lock

  Segments(Segment head, int count, long sealedBytes) {
    this.head = head;
    this.count = count;
    this.sealedBytes = sealedBytes;
  }

  /** The writer committed a roll-over from a segment of {@code sealedEnd} bytes to a new one. */
  void rolled(long sealedEnd) {
    lock.lock();
    try {
      count++;
      sealedBytes += sealedEnd;
    } finally {
      lock.unlock();
    }
  }

  Segment first() {
    lock.lock();
    try {
      return head;
    } finally {
      lock.unlock();
    }
  }

  int count() {
    lock.lock();
    try {
      return count;
    } finally {
      lock.unlock();
    }
  }

  long bytes(Committed tail) {
    lock.lock();
    try {
      return sealedBytes + tail.end();
    } finally {
      lock.unlock();
    }
  }

  /**
   * {@return the segment that holds {@code position}, or the last one that could}
   *
   * @throws IllegalArgumentException if the position's segment was deleted (it is stored)
   */
  Segment find(long position) {
    lock.lock();
    try {
      if (position < head.basePosition) {
        throw new IllegalArgumentException(
            "position " + position + " is stored and deleted; the log starts at " + head);
      }
      Segment s = head;
      while (s.next() != null && s.next().basePosition <= position) {
        s = s.next();
      }
      return s;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Unlinks the sealed segments whose every payload lies below the watermark.
   *
   * @return the unlinked segments, oldest first, for the caller to delete
   */
  List<Segment> removeStored(long watermark) {
    lock.lock();
    try {
      List<Segment> gone = new ArrayList<>(0);
      while (head.next() != null && head.next().basePosition <= watermark) {
        gone.add(head);
        sealedBytes -= head.sealedEnd();
        count--;
        head = head.next();
      }
      return gone;
    } finally {
      lock.unlock();
    }
  }
}
