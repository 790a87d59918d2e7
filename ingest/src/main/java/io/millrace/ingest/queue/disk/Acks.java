package io.millrace.ingest.queue.disk;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Which payloads are stored, which batches are cut and pending, and the counters of the backlog.
 *
 * <p>Stored ranges arrive in any order (uploads run concurrently). The low watermark is the first
 * unstored position: every position below it is stored. Ranges stored above it wait in a sorted map
 * until the watermark reaches them. The bytes of a range come from its byte offsets, so the byte
 * counters are exact without a per-payload index. Heap use is bounded by the batches in flight,
 * plus one time sample per second of unstored backlog (for the oldest unstored age).
 */
final class Acks {
  private final ReentrantLock lock = new ReentrantLock();
  // all guarded by lock:
  private long watermark;
  private long watermarkByte;
  private final TreeMap<Long, BatchRange> storedAbove = new TreeMap<>();
  private long aboveCount;
  private long aboveBytes;
  private final TreeMap<Long, BatchRange> pending = new TreeMap<>(); // cut, not yet stored
  private long nextCut;
  private final ArrayDeque<long[]> samples = new ArrayDeque<>(); // {position, appendedAtMillis}

  Acks(long watermark, long watermarkByte) {
    this.watermark = watermark;
    this.watermarkByte = watermarkByte;
    this.nextCut = watermark;
  }

  long watermark() {
    lock.lock();
    try {
      return watermark;
    } finally {
      lock.unlock();
    }
  }

  long nextCut() {
    lock.lock();
    try {
      return nextCut;
    } finally {
      lock.unlock();
    }
  }

  List<BatchRange> pending() {
    lock.lock();
    try {
      return new ArrayList<>(pending.values());
    } finally {
      lock.unlock();
    }
  }

  /** Records a cut as pending. Caller has checked that it starts at {@link #nextCut()}. */
  void cut(BatchRange range) {
    lock.lock();
    try {
      pending.put(range.first(), range);
      nextCut = Math.max(nextCut, range.last() + 1);
    } finally {
      lock.unlock();
    }
  }

  /** Recovery: batches recorded (stored or not) end before {@code end}. */
  void cutUpTo(long end) {
    lock.lock();
    try {
      nextCut = Math.max(nextCut, end);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Claims a pending batch for its STORED record, so it cannot be marked twice.
   *
   * @throws IllegalArgumentException if the range is not a pending cut
   */
  void claim(BatchRange range) {
    lock.lock();
    try {
      BatchRange known = pending.get(range.first());
      if (known == null || known.last() != range.last() || known.endByte() != range.endByte()) {
        throw new IllegalArgumentException("not a pending batch of this log: " + range);
      }
      pending.remove(range.first());
    } finally {
      lock.unlock();
    }
  }

  /** Gives a claimed batch back (its STORED record was not written). */
  void unclaim(BatchRange range) {
    lock.lock();
    try {
      pending.put(range.first(), range);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Counts a range as stored (its STORED record is durable); parts below the watermark, which only
   * recovery can meet, are skipped.
   *
   * @return the new watermark
   */
  long stored(BatchRange range) {
    lock.lock();
    try {
      if (range.last() >= watermark) {
        if (range.first() <= watermark) {
          advance(range);
          for (BatchRange r; (r = storedAbove.get(watermark)) != null; ) {
            storedAbove.remove(watermark);
            aboveCount -= r.count();
            aboveBytes -= r.bytes();
            advance(r);
          }
          pruneSamples();
        } else {
          storedAbove.put(range.first(), range);
          aboveCount += range.count();
          aboveBytes += range.bytes();
        }
      }
      return watermark;
    } finally {
      lock.unlock();
    }
  }

  /** Keeps only the last sample at or below the watermark, and those above it. */
  private void pruneSamples() {
    while (samples.size() > 1) {
      long[] first = samples.pollFirst();
      if (samples.peekFirst()[0] > watermark) {
        samples.addFirst(first);
        return;
      }
    }
  }

  private void advance(BatchRange r) {
    watermark = r.last() + 1;
    watermarkByte = r.endByte();
  }

  /** Notes when the payload at {@code position} was appended (about once a second). */
  void sample(long position, long appendedAtMillis) {
    lock.lock();
    try {
      samples.addLast(new long[] {position, appendedAtMillis});
    } finally {
      lock.unlock();
    }
  }

  long unstoredPayloads(long nextPosition) {
    lock.lock();
    try {
      return nextPosition - watermark - aboveCount;
    } finally {
      lock.unlock();
    }
  }

  long unstoredBytes(long nextByte) {
    lock.lock();
    try {
      return nextByte - watermarkByte - aboveBytes;
    } finally {
      lock.unlock();
    }
  }

  /** {@return the age of the oldest unstored payload, to within the sampling interval} */
  long oldestUnstoredAgeMillis(long nextPosition, long nowMillis) {
    lock.lock();
    try {
      if (nextPosition - watermark - aboveCount <= 0 || samples.isEmpty()) {
        return 0;
      }
      return Math.max(0, nowMillis - samples.peekFirst()[1]);
    } finally {
      lock.unlock();
    }
  }
}
