package io.millrace.ingest;

import io.millrace.ingest.store.ObjectStore;

/**
 * Whether the store answers, for readiness: marked down by a failed upload and up by a successful
 * one, and checked by a virtual thread every 2 s (every 0.5 s while it is down). Thread-safe.
 */
final class StoreHealth implements AutoCloseable {
  private volatile boolean reachable = true;
  private volatile boolean closed;
  private volatile Thread checker;

  /** {@return whether the store answered last} */
  boolean reachable() {
    return reachable;
  }

  /** Marks the store reachable. */
  void up() {
    reachable = true;
  }

  /** Marks the store unreachable. */
  void down() {
    reachable = false;
  }

  /** Starts checking the store, at once and then periodically, until {@link #close()}. */
  void watch(ObjectStore store) {
    checker = Thread.ofVirtual().name("millrace-store-health").start(() -> check(store));
  }

  private void check(ObjectStore store) {
    while (!closed) {
      boolean ok = store.reachable();
      reachable = ok;
      try {
        Thread.sleep(ok ? 2000 : 500);
      } catch (InterruptedException e) {
        return; // closed: the flag is the thread's own, nothing to keep
      }
    }
  }

  /** Stops checking; a check in flight ends with the store's own timeout. Does not wait. */
  @Override
  public void close() {
    closed = true;
    Thread t = checker;
    if (t != null) {
      t.interrupt();
    }
  }
}
