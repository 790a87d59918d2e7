package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.Job;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.TreeMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The state of the jobs a {@link DiskJobQueue} has handed out, shared by its parts: {@link
 * JobReader} adds to it, {@link Cuts} moves jobs from unfixed to cut and takes them out once
 * recorded stored, {@link StartReplay} puts the batches rebuilt at start in it.
 *
 * <p>One lock, {@link #lock}, guards every mutable field here, and also the flags and reader of
 * {@link JobReader}, the key window of {@link IdempotencyKeys}, and {@link Slot#batch}, {@link
 * Slot#acked} and {@link CutBatch#unacked}. It is held only around reads and updates of that state,
 * never across I/O; {@link Cuts} takes it inside its own fix lock, never the other way round.
 * {@link #changed} is signalled when room is made in flight or the iteration must end.
 */
final class QueueState {
  final ReentrantLock lock = new ReentrantLock();
  final Condition changed = lock.newCondition(); // room in flight, or closing
  final String logId;
  final byte[] idPrefix;
  // all guarded by lock:
  final ArrayDeque<Slot> unfixed = new ArrayDeque<>(); // handed out, not cut; in order
  final TreeMap<Long, CutBatch> fixed = new TreeMap<>(); // cut, not recorded stored
  final ArrayDeque<CutBatch> toRecord = new ArrayDeque<>(); // all acked; STORED failed
  long inFlightPayloads;
  long inFlightBytes;
  long readerPosition; // the next position jobs() hands out

  QueueState(String logId) {
    this.logId = logId;
    this.idPrefix = (logId + "-").getBytes(StandardCharsets.US_ASCII);
  }

  /** {@return the batch name of a range: {@code <log id>-<first position>-<last position>}} */
  String name(BatchRange r) {
    return logId + "-" + r.name();
  }

  /**
   * {@return the job's slot}
   *
   * @throws IllegalArgumentException if it is not a job of this queue
   */
  Slot slotOf(Job j) {
    if (!(j.receipt() instanceof Slot s) || s.owner != this) {
      throw new IllegalArgumentException("not a job of this queue: " + j);
    }
    return s;
  }

  /** {@return payloads handed out (or rebuilt) and not yet recorded stored} */
  long inFlightPayloads() {
    lock.lock();
    try {
      return inFlightPayloads;
    } finally {
      lock.unlock();
    }
  }
}
