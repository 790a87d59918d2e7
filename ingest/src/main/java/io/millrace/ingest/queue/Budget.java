package io.millrace.ingest.queue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Payloads and bytes taken in and not yet stored, against two limits ({@code MAX_QUEUE} and {@code
 * MILLRACE_QUEUE_MAX_BYTES}): what keeps memory flat under any overload. Every queue keeps one: the
 * in-memory queue for what it admitted, a JetStream worker for what it pulled.
 *
 * <p>Thread-safe, with its own lock; it never calls out, so a queue may call it while holding its
 * own lock (queue lock first, then this one).
 */
public final class Budget {
  private final long maxPayloads;
  private final long maxBytes;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition roomFreed = lock.newCondition();
  private long payloads; // guarded by lock
  private long bytes; // guarded by lock

  /**
   * Creates an empty budget.
   *
   * @param maxPayloads payloads taken in and not yet stored, at most
   * @param maxBytes payload bytes taken in and not yet stored, at most
   */
  public Budget(long maxPayloads, long maxBytes) {
    this.maxPayloads = maxPayloads;
    this.maxBytes = maxBytes;
  }

  /** {@return the total size of these payloads, in bytes} */
  public static long sizeOf(Iterable<byte[]> payloads) {
    long size = 0;
    for (byte[] b : payloads) {
      size += b.length;
    }
    return size;
  }

  /**
   * {@return why a request of this size can never be taken in whole, or null if it can}
   *
   * @param payloads the request's payload count
   * @param bytes the request's payload bytes
   */
  public String tooLarge(long payloads, long bytes) {
    if (payloads <= maxPayloads && bytes <= maxBytes) {
      return null;
    }
    return "the request holds "
        + payloads
        + " payloads ("
        + bytes
        + " bytes); the queue can never hold more than "
        + maxPayloads
        + " payloads or "
        + maxBytes
        + " bytes";
  }

  /**
   * Takes all of it within both limits, or nothing.
   *
   * @return whether it was taken
   */
  public boolean tryTake(long payloads, long bytes) {
    lock.lock();
    try {
      if (this.payloads + payloads > maxPayloads || this.bytes + bytes > maxBytes) {
        return false;
      }
      this.payloads += payloads;
      this.bytes += bytes;
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Takes it whatever the limits (replays, a message pulled while there was room). */
  public void take(long payloads, long bytes) {
    lock.lock();
    try {
      this.payloads += payloads;
      this.bytes += bytes;
    } finally {
      lock.unlock();
    }
  }

  /** Gives back what {@link #tryTake} or {@link #take} took, and wakes those waiting for room. */
  public void release(long payloads, long bytes) {
    lock.lock();
    try {
      this.payloads -= payloads;
      this.bytes -= bytes;
      if (this.payloads < 0 || this.bytes < 0) {
        throw new IllegalStateException("budget below zero: " + this);
      }
      roomFreed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until both counts are below their limits, at most {@code timeout}.
   *
   * @return whether there is room
   * @throws InterruptedException if interrupted while waiting
   */
  public boolean awaitRoom(long timeout, TimeUnit unit) throws InterruptedException {
    long nanos = unit.toNanos(timeout);
    lock.lockInterruptibly();
    try {
      while (payloads >= maxPayloads || bytes >= maxBytes) {
        if (nanos <= 0) {
          return false;
        }
        nanos = roomFreed.awaitNanos(nanos);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Wakes everyone in {@link #awaitRoom} (closing). */
  public void wakeAll() {
    lock.lock();
    try {
      roomFreed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * {@return how many units of about {@code avgPayloads} payloads and {@code avgBytes} bytes still
   * fit, at least 1 and at most {@code max}}
   */
  public int roomFor(long avgPayloads, long avgBytes, int max) {
    lock.lock();
    try {
      long byPayloads = (maxPayloads - payloads) / Math.max(1, avgPayloads);
      long byBytes = (maxBytes - bytes) / Math.max(1, avgBytes);
      return (int) Math.max(1, Math.min(max, Math.min(byPayloads, byBytes)));
    } finally {
      lock.unlock();
    }
  }

  /** {@return whether 90% or more of either limit is taken} */
  public boolean saturated() {
    lock.lock();
    try {
      return payloads * 10 >= maxPayloads * 9 || bytes * 10 >= maxBytes * 9;
    } finally {
      lock.unlock();
    }
  }

  /** {@return payloads taken in and not yet stored} */
  public long payloads() {
    lock.lock();
    try {
      return payloads;
    } finally {
      lock.unlock();
    }
  }

  /** {@return payload bytes taken in and not yet stored} */
  public long bytes() {
    lock.lock();
    try {
      return bytes;
    } finally {
      lock.unlock();
    }
  }

  /** {@return the payload limit} */
  public long maxPayloads() {
    return maxPayloads;
  }

  /** {@return the byte limit} */
  public long maxBytes() {
    return maxBytes;
  }

  /** {@return {@code p/maxP payloads, b/maxB bytes}} */
  @Override
  public String toString() {
    lock.lock();
    try {
      return payloads + "/" + maxPayloads + " payloads, " + bytes + "/" + maxBytes + " bytes";
    } finally {
      lock.unlock();
    }
  }
}
