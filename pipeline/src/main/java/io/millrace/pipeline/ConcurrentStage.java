package io.millrace.pipeline;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code mapConcurrent(n, fn)} and {@code mapConcurrentUnordered(n, fn)}: up to {@code n}
 * long-lived worker threads that take their input themselves; the stage's own thread is the first
 * of them. There is no dispatcher and no emitter thread.
 *
 * <p>A worker loops: (ordered) takes one of {@code n} permits, the window; under the take lock,
 * takes the next element and its number (reading a chunk from the input when the last one is used
 * up, so one worker at a time waits for input while the others wait for the lock); calls {@code
 * fn}; hands the result on; goes round again. A worker that took an element starts more workers
 * (under the take lock) if fewer than {@code n} exist and nobody waits for the take lock: one per
 * element ready for them (left in the chunk or waiting in the input), at most one per free permit.
 * So workers are started lazily as the calls in flight grow, never more than {@code n}, and a burst
 * of completions costs neither a thread start nor a hand-off per call: a worker goes straight on to
 * its next element.
 *
 * <p>Ordered: results go into a ring of {@code n} slots indexed by the element's number. Whichever
 * worker fills the slot at the head takes the emitter's role (a flag, one holder at a time), hands
 * on every consecutive result that is ready with one {@code sendAll}, then returns their permits,
 * keeping one for its own next element (so it neither waits nor wakes a waiter only to take the
 * permit from it). A permit is held from before an element is numbered until its result was handed
 * on, so calls in flight plus results waiting are at most {@code n}, and the element numbered
 * {@code s + n} is numbered only after slot {@code s} was emptied. Unordered needs no permits: each
 * of the at most {@code n} workers runs one call at a time and sends its result on itself before it
 * takes the next element.
 *
 * <p>At the end of the input every worker, once it finds no next element, returns its permit and
 * ends; the last one to end closes the stage's side of the output (after every result was handed
 * on: each worker hands on, or leaves to the role's holder, before it ends). When the run stops (a
 * call failed, a cancel, a cut region) the run interrupts every thread and fails the buffers; every
 * place a worker waits (the window, the take lock, the input, the output) throws then, so every
 * worker ends and none waits for input that will not come.
 *
 * <p>Counters: {@code in} is written under the take lock; {@code out} (unordered), {@code inFlight}
 * and {@code busy} are kept per worker (one writer each, no atomic instruction per call) and summed
 * on read through {@link StageCounters#share}; ordered {@code out} is written by the emitter's role
 * holder only. All are exact once the run ended.
 *
 * <p>Not kept from the thread-per-call design: a call no longer gets a fresh thread, so what a call
 * leaves in a {@code ThreadLocal} is seen by the next call on that worker.
 */
final class ConcurrentStage implements StageBody, StageCounters.Shares {

  private final RunScope scope;
  private final StageCounters st;
  private final PolicyRunner calls;
  private final int maxInFlight;
  private final boolean ordered;
  private final Channel<Object> in;
  private final Outlet out;

  /**
   * Ordered: elements numbered but not yet handed on, plus workers between a permit and an element.
   * Unordered needs none: each of the at most {@code n} workers runs one call at a time and hands
   * its result on before it takes the next element.
   */
  private final Semaphore window;

  /** Ordered: slot {@code seq % n} holds the result of element {@code seq} until handed on. */
  private final AtomicReferenceArray<Object> ring;

  /** Ordered: who holds the emitter's role. */
  private final AtomicBoolean emitting = new AtomicBoolean();

  /** Ordered, the emitter's (guarded by {@link #emitting}): the next element to hand on. */
  private long head;

  /** Ordered, the emitter's (guarded by {@link #emitting}): the chunk it hands on. */
  private final Object[] emitBuf;

  private final ReentrantLock take = new ReentrantLock();
  // guarded by take:
  private final Object[] chunk;
  private int pos;
  private int len;
  private boolean ended;
  private long nextSeq;

  /**
   * Every worker started; written under the take lock, read by snapshots up to {@link #started}.
   */
  private final Worker[] workers;

  private volatile int started;

  /** Workers started and not yet ended normally; the last to end closes the output. */
  private final AtomicInteger live = new AtomicInteger();

  ConcurrentStage(
      RunScope scope,
      StageCounters st,
      PolicyRunner calls,
      int maxInFlight,
      boolean ordered,
      Channel<Object> in,
      Outlet out) {
    this.scope = scope;
    this.st = st;
    this.calls = calls;
    this.maxInFlight = maxInFlight;
    this.ordered = ordered;
    this.in = in;
    this.out = out;
    this.window = ordered ? new Semaphore(maxInFlight) : null;
    this.ring = ordered ? new AtomicReferenceArray<>(maxInFlight) : null;
    this.emitBuf = ordered ? Chunks.newChunk(out.channel) : null;
    this.chunk = Chunks.newChunk(in);
    this.workers = new Worker[maxInFlight];
  }

  /** The stage's thread: the first worker. */
  @Override
  public void run() throws Exception {
    st.share(this);
    Worker first = new Worker();
    take.lock();
    try {
      workers[0] = first;
      started = 1;
      live.set(1);
    } finally {
      take.unlock();
    }
    first.run();
  }

  // ------------------------------------------------------------------ taking input

  /**
   * {@return the next element, or null at the end of the input} Called under the take lock; may
   * wait for input.
   */
  private Object next() throws InterruptedException {
    if (pos == len) {
      if (ended) {
        return null;
      }
      int k = Chunks.take(in, chunk, chunk.length, -1);
      if (k < 0) {
        ended = true;
        return null;
      }
      st.in.lazySet(st.in.get() + k);
      pos = 0;
      len = k;
    }
    Object x = chunk[pos];
    chunk[pos++] = null;
    return x;
  }

  /**
   * Starts more workers if more could work now: as many as there are elements ready for them (taken
   * and not yet handed out, or waiting in the input) and permits free, up to {@code n} workers in
   * all; none if a worker waits for the take lock already. Called under the take lock.
   */
  private void maybeStartWorkers() {
    int s = started;
    if (s == maxInFlight || take.hasQueuedThreads()) {
      return;
    }
    int more = Math.min(maxInFlight - s, ordered ? window.availablePermits() : maxInFlight);
    if (more <= 0) {
      return;
    }
    more = Math.min(more, (len - pos) + in.size());
    for (int i = 0; i < more; i++) {
      Worker w = new Worker();
      workers[s] = w;
      started = ++s;
      live.incrementAndGet();
      scope.fork(st, w);
    }
  }

  // ------------------------------------------------------------------ ordered hand-on

  /**
   * Hands on every consecutive ready result at the head, if no other worker is doing so. A worker
   * that fills a slot while another holds the role leaves it to that one: the holder checks the
   * head again after giving the role up (both accesses are volatile, so one of the two sees the
   * other's write).
   *
   * @return whether the caller kept one of the permits it freed (for its next element)
   */
  private boolean emit() throws InterruptedException {
    int n = maxInFlight;
    boolean kept = false;
    while (emitting.compareAndSet(false, true)) {
      long h;
      try {
        while (true) {
          h = head;
          int k = 0;
          while (k < emitBuf.length) {
            int i = (int) (h % n);
            Object r = ring.get(i);
            if (r == null) {
              break;
            }
            ring.set(i, null);
            h++;
            if (r != PolicyRunner.DROPPED) {
              emitBuf[k++] = r;
            }
          }
          int taken = (int) (h - head);
          if (taken == 0) {
            break;
          }
          if (k > 0) {
            out.channel.sendAll(emitBuf, k, st.out);
            Arrays.fill(emitBuf, 0, k, null);
          }
          head = h;
          if (!kept) {
            kept = true; // the caller's next element takes this permit: no wake-up, no barging
            taken--;
          }
          if (taken > 0) {
            window.release(taken);
          }
        }
      } finally {
        emitting.set(false);
      }
      if (ring.get((int) (h % n)) == null) {
        return kept;
      }
    }
    return kept;
  }

  // ------------------------------------------------------------------ counters

  @Override
  public long out() {
    long sum = 0;
    for (int i = 0, s = started; i < s; i++) {
      sum += (long) OUT.getAcquire(workers[i]);
    }
    return sum;
  }

  @Override
  public int inFlight() {
    int sum = 0;
    for (int i = 0, s = started; i < s; i++) {
      sum += (int) CALLING.getAcquire(workers[i]);
    }
    return sum;
  }

  @Override
  public long busyNanos() {
    long sum = 0;
    for (int i = 0, s = started; i < s; i++) {
      sum += (long) BUSY.getAcquire(workers[i]);
    }
    return sum;
  }

  private static final VarHandle OUT;
  private static final VarHandle CALLING;
  private static final VarHandle BUSY;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      OUT = l.findVarHandle(Worker.class, "outCount", long.class);
      CALLING = l.findVarHandle(Worker.class, "calling", int.class);
      BUSY = l.findVarHandle(Worker.class, "busy", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  // ------------------------------------------------------------------ a worker

  /** One worker: takes an element, calls, hands on, until the input ends. */
  private final class Worker implements StageBody {
    // this worker's counters: written by it only (release), summed by snapshots (acquire)
    private long outCount;
    private int calling;
    private long busy;

    @Override
    public void run() throws Exception {
      boolean permit = false; // ordered: holds a permit kept from its last hand-on
      while (true) {
        if (ordered && !permit) {
          window.acquire();
        }
        permit = false;
        Object x;
        long s;
        take.lockInterruptibly();
        try {
          x = next();
          s = nextSeq;
          if (x != null) {
            nextSeq = s + 1;
            maybeStartWorkers();
          }
        } finally {
          take.unlock();
        }
        if (x == null) {
          if (ordered) {
            window.release();
          }
          break;
        }
        Object r = call(x);
        if (ordered) {
          ring.set((int) (s % maxInFlight), r);
          permit = emit();
        } else if (r != PolicyRunner.DROPPED) {
          out.channel.send(r);
          OUT.setRelease(this, outCount + 1);
        }
      }
      if (live.decrementAndGet() == 0) {
        out.producerDone(); // every worker handed its results on (or left them to the emitter)
      }
    }

    private Object call(Object x) throws Exception {
      CALLING.setRelease(this, 1);
      long t0 = System.nanoTime();
      try {
        return calls.call(x);
      } finally {
        BUSY.setRelease(this, busy + (System.nanoTime() - t0));
        CALLING.setRelease(this, 0);
      }
    }
  }
}
