package io.millrace.ingest.queue.disk;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/** The published commit point, and where readers wait for the next one. */
final class Tail {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition moved = lock.newCondition(); // guarded by lock
  private volatile Committed current;
  private volatile boolean closed;

  Tail(Committed initial) {
    current = initial;
  }

  Committed current() {
    return current;
  }

  boolean isClosed() {
    return closed;
  }

  /** Publishes a new commit point and wakes the readers. Writer thread only. */
  void publish(Committed next) {
    current = next;
    signal();
  }

  /** Marks the log closed (no commit point will follow) and wakes the readers. */
  void close() {
    closed = true;
    signal();
  }

  private void signal() {
    lock.lock();
    try {
      moved.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the commit point is no longer {@code seen}, the log is closed, or the time is up.
   *
   * @return nanoseconds left
   * @throws InterruptedException if interrupted while waiting (the flag is cleared)
   */
  long await(Committed seen, long nanos) throws InterruptedException {
    lock.lockInterruptibly();
    try {
      while (current == seen && !closed && nanos > 0) {
        nanos = moved.awaitNanos(nanos);
      }
      return nanos;
    } finally {
      lock.unlock();
    }
  }
}
