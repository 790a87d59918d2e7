package io.millrace.ingest.queue.memory;

import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobQueue;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The in-process {@link JobQueue}: a FIFO of waiting jobs plus a FIFO of jobs handed out, both
 * inside one budget and one lock (no per-job concurrent set: the lock is already held to hand a job
 * out, and acknowledgements come a batch at a time). A stored job gives up its payload at once and
 * leaves the handed-out FIFO when every older job is stored too; at most about twice {@code
 * maxPayloads} such shells may wait behind a stuck upload before admission answers full.
 *
 * <p>Admission takes one lock per request and never waits. Memory is bounded: waiting plus
 * unacknowledged jobs never exceed {@code maxPayloads} payloads and {@code maxBytes} bytes (adopted
 * replays aside). Ids are {@code <run-id>-<sequence as 12 hex digits>}; the run id is unique per
 * process start, so ids never repeat across restarts.
 */
public final class MemoryJobQueue implements JobQueue {
  private final long maxPayloads;
  private final long maxBytes;
  private final byte[] idPrefix;
  private final LongSupplier clock;
  private final AtomicBoolean iterated = new AtomicBoolean();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  // guarded by lock
  private final ArrayDeque<Job> waiting = new ArrayDeque<>();
  private long sequence;
  private long payloads;
  private long bytes;
  private boolean admissionClosed;
  // handed out (or adopted), in that order; acknowledged ones are popped from the head, so a
  // stored job stays here (without its payload) only while an older one is still in flight
  private final ArrayDeque<Job> handedOut = new ArrayDeque<>();
  // Idempotency-Key -> when it was admitted (clock ms) and how many payloads; oldest first
  private final java.util.LinkedHashMap<String, long[]> keys = new java.util.LinkedHashMap<>();
  private long duplicateWindowMs = 120_000;
  private static final int MAX_KEYS = 100_000;

  /**
   * Creates a queue.
   *
   * @param maxPayloads payloads admitted and not yet stored, at most
   * @param maxBytes payload bytes admitted and not yet stored, at most
   * @param runId prefix of every id this queue assigns
   * @param clock epoch milliseconds, for the admission time
   */
  public MemoryJobQueue(long maxPayloads, long maxBytes, String runId, LongSupplier clock) {
    this.maxPayloads = maxPayloads;
    this.maxBytes = maxBytes;
    this.idPrefix = (runId + "-").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    this.clock = clock;
  }

  /**
   * Sets how long an {@code Idempotency-Key} is remembered (at most {@value #MAX_KEYS} keys, the
   * oldest forgotten first).
   *
   * @param windowMs the duplicate window, milliseconds
   * @return this queue
   */
  public MemoryJobQueue duplicateWindow(long windowMs) {
    lock.lock();
    try {
      this.duplicateWindowMs = windowMs;
    } finally {
      lock.unlock();
    }
    return this;
  }

  @Override
  public Admission admit(List<byte[]> batch, String idempotencyKey) {
    long n = batch.size();
    long size = 0;
    for (byte[] b : batch) {
      size += b.length;
    }
    long now = clock.getAsLong();
    lock.lock();
    try {
      if (admissionClosed) {
        return new Admission.ShuttingDown();
      }
      if (idempotencyKey != null) {
        while (!keys.isEmpty()) {
          var oldest = keys.entrySet().iterator().next();
          if (keys.size() < MAX_KEYS && now - oldest.getValue()[0] < duplicateWindowMs) {
            break;
          }
          keys.remove(oldest.getKey());
        }
        long[] seen = keys.get(idempotencyKey);
        if (seen != null) {
          return new Admission.Replayed((int) seen[1]);
        }
      }
      if (payloads + n > maxPayloads
          || bytes + size > maxBytes
          || handedOut.size() + n > 2 * maxPayloads + 1024) {
        // the last bound keeps the stored-but-not-yet-popped shells behind a stuck upload finite
        return new Admission.QueueFull(1);
      }
      for (byte[] b : batch) {
        waiting.addLast(new Job(Job.id(idPrefix, sequence++), now, b, null));
      }
      payloads += n;
      bytes += size;
      if (n > 0) {
        notEmpty.signal();
      }
      if (idempotencyKey != null) {
        keys.put(idempotencyKey, new long[] {now, n});
      }
      return new Admission.Admitted((int) n);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void adopt(List<Job> jobs, boolean wait) {
    long size = 0;
    for (Job j : jobs) {
      size += j.payload().length;
    }
    lock.lock();
    try {
      payloads += jobs.size();
      bytes += size;
      if (wait) {
        waiting.addAll(jobs);
        notEmpty.signalAll();
      } else {
        handedOut.addAll(jobs);
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Iterator<Job> jobs() {
    if (!iterated.compareAndSet(false, true)) {
      throw new IllegalStateException("jobs() may be called once");
    }
    return new Iterator<>() {
      private Job next;

      @Override
      public boolean hasNext() {
        if (next != null) {
          return true;
        }
        lock.lock();
        try {
          while (waiting.isEmpty()) {
            if (admissionClosed) {
              return false;
            }
            try {
              notEmpty.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new java.util.concurrent.CancellationException(
                  "interrupted while waiting for jobs");
            }
          }
          next = waiting.pollFirst();
          handedOut.addLast(next); // under the lock: a job is always in one of the two places
          return true;
        } finally {
          lock.unlock();
        }
      }

      @Override
      public Job next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        Job j = next;
        next = null;
        return j;
      }
    };
  }

  @Override
  public void ack(Collection<Job> stored) {
    List<SpillFile> origins = null;
    lock.lock();
    try {
      for (Job j : stored) {
        if (j.acked) {
          continue;
        }
        j.acked = true;
        payloads--;
        bytes -= j.payload().length;
        j.dropPayload();
        if (j.origin() != null) {
          if (origins == null) {
            origins = new ArrayList<>();
          }
          origins.add(j.origin());
        }
      }
      while (!handedOut.isEmpty() && handedOut.peekFirst().acked) {
        handedOut.pollFirst();
      }
    } finally {
      lock.unlock();
    }
    if (origins != null) {
      for (SpillFile f : origins) {
        f.stored(); // may delete a file: outside the lock
      }
    }
  }

  @Override
  public void closeAdmission() {
    lock.lock();
    try {
      admissionClosed = true;
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<Job> unacknowledged() {
    lock.lock();
    try {
      List<Job> all = new ArrayList<>(waiting.size() + handedOut.size());
      all.addAll(waiting);
      for (Job j : handedOut) {
        if (!j.acked) {
          all.add(j);
        }
      }
      return all;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long payloads() {
    lock.lock();
    try {
      return payloads;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long bytes() {
    lock.lock();
    try {
      return bytes;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long maxPayloads() {
    return maxPayloads;
  }

  @Override
  public long maxBytes() {
    return maxBytes;
  }

  @Override
  public void close() {
    closeAdmission();
  }
}
