package io.millrace.ingest.queue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Counts the requests inside a queue's admission, and closes it in one atomic step: a request
 * either enters before {@link #close()} (and is waited for by {@link #awaitEmpty}) or is refused.
 * One word holds both the closed flag (the sign bit) and the count, so there is no moment where a
 * request has passed the check but is not yet counted.
 *
 * <p>Thread-safe; {@link #tryEnter} and {@link #exit} are lock-free (the hot path).
 */
public final class AdmissionGate {
  private static final long CLOSED = Long.MIN_VALUE;
  private final AtomicLong state = new AtomicLong();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition empty = lock.newCondition();

  /** {@return true if the caller is now inside (it must call {@link #exit}), false if closed} */
  public boolean tryEnter() {
    while (true) {
      long s = state.get();
      if (s < 0) {
        return false;
      }
      if (state.compareAndSet(s, s + 1)) {
        return true;
      }
    }
  }

  /** Leaves after a successful {@link #tryEnter}. */
  public void exit() {
    long s = state.decrementAndGet();
    if (s == CLOSED) { // closed, and this was the last one inside
      lock.lock();
      try {
        empty.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  /** Refuses every later {@link #tryEnter}. Idempotent. */
  public void close() {
    state.getAndUpdate(s -> s | CLOSED);
  }

  /** {@return whether {@link #close} was called} */
  public boolean isClosed() {
    return state.get() < 0;
  }

  /** {@return how many requests are inside now} */
  public long inside() {
    return state.get() & Long.MAX_VALUE;
  }

  /**
   * After {@link #close}, waits until every request that entered has left, at most {@code timeout}.
   *
   * @return whether none is inside any more
   * @throws InterruptedException if interrupted while waiting
   */
  public boolean awaitEmpty(long timeout, TimeUnit unit) throws InterruptedException {
    long nanos = unit.toNanos(timeout);
    lock.lockInterruptibly();
    try {
      while (inside() > 0) {
        if (nanos <= 0) {
          return false;
        }
        nanos = empty.awaitNanos(nanos);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }
}
