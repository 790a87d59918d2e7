package io.millrace.pipeline;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code mapConcurrentPartitioned(n, key, fn)}: at most {@code n} calls in flight, at most one per
 * key, and each key's results handed on in its input order.
 *
 * <p>The stage's thread (the dispatcher) takes each element and computes its key. If no call for
 * that key is running and fewer than {@code n} are, it starts a worker thread for the element. If a
 * call for the key is running, the element waits behind it in that key's queue. A worker calls
 * {@code fn}, hands the result on, and then takes the next element waiting for its key, if any (so
 * within a key one call follows the other, on one thread); else it ends. Bounds: at most {@code n}
 * workers (threads, calls in flight) and at most {@code n} elements waiting behind busy keys, over
 * all keys. When either bound is reached the dispatcher stops reading its input until a worker
 * makes room: a hot key holds the input back rather than growing a queue, and memory stays bounded.
 *
 * <p>A worker gives back its place among the {@code n} only once it no longer counts as a live
 * thread of the run, so there are never more worker threads than {@code n}.
 */
final class PartitionedStage implements StageBody {
  private final RunScope scope;
  private final StageCounters st;
  private final ThrowingFunction<Object, Object> keyFn;
  private final PolicyRunner calls;
  private final int maxInFlight;
  private final int maxWaiting;
  private final Channel<Object> in;
  private final Outlet out;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition(); // the dispatcher waits on it
  // guarded by lock:
  private final Map<Object, ArrayDeque<Object>> busy = new HashMap<>(); // key -> waiting elements
  private int workers; // counted from the decision to start one until its thread stopped counting
  private int waiting;

  PartitionedStage(
      RunScope scope,
      StageCounters st,
      ThrowingFunction<Object, Object> keyFn,
      PolicyRunner calls,
      int maxInFlight,
      Channel<Object> in,
      Outlet out) {
    this.scope = scope;
    this.st = st;
    this.keyFn = keyFn;
    this.calls = calls;
    this.maxInFlight = maxInFlight;
    this.maxWaiting = maxInFlight;
    this.in = in;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    Object[] chunk = Chunks.newChunk(in);
    while (true) {
      int k = Chunks.take(in, chunk, chunk.length, -1);
      if (k < 0) {
        break;
      }
      st.in.getAndAdd(k);
      for (int i = 0; i < k; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        Object key = keyFn.apply(item);
        if (key == null) {
          throw new NullPointerException("stage '" + st.name + "' key function returned null");
        }
        if (admit(key, item)) {
          scope.fork(st, () -> work(key, item), this::workerExited);
        }
      }
    }
    lock.lockInterruptibly();
    try {
      while (workers > 0) { // a worker drains its key's queue before it ends
        changed.await();
      }
    } finally {
      lock.unlock();
    }
    out.producerDone();
  }

  /** {@return whether {@code item} needs a new worker (else it waits behind its key)} */
  private boolean admit(Object key, Object item) throws InterruptedException {
    lock.lockInterruptibly();
    try {
      while (true) {
        ArrayDeque<Object> q = busy.get(key);
        if (q != null) {
          if (waiting < maxWaiting) {
            q.addLast(item);
            waiting++;
            return false;
          }
        } else if (workers < maxInFlight) {
          busy.put(key, new ArrayDeque<>(2));
          workers++;
          return true;
        }
        changed.await();
      }
    } finally {
      lock.unlock();
    }
  }

  private void work(Object key, Object first) throws Exception {
    Object item = first;
    while (true) {
      Object r = calls.callTimed(item);
      if (r != PolicyRunner.DROPPED) {
        out.channel.send(r);
        st.out.getAndIncrement();
      }
      lock.lock();
      try {
        ArrayDeque<Object> q = busy.get(key);
        item = q.pollFirst();
        if (item == null) {
          busy.remove(key); // the key is free; this worker's place is given back on exit
          return;
        }
        waiting--;
        changed.signal();
      } finally {
        lock.unlock();
      }
    }
  }

  private void workerExited() {
    lock.lock();
    try {
      workers--;
      changed.signal();
    } finally {
      lock.unlock();
    }
  }
}
