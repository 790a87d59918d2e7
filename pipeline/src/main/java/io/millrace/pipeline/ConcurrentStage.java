package io.millrace.pipeline;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code mapConcurrent(n, fn)} and {@code mapConcurrentUnordered(n, fn)}: a dispatcher (the stage's
 * thread) and up to {@code n} long-lived worker threads.
 *
 * <p>The dispatcher takes one of {@code n} permits (the window) per element, numbers the element
 * and hands it to an idle worker, or, if none is idle, starts a new one with it. A worker calls
 * {@code fn}, hands its result on and waits for its next element. So workers are started lazily, as
 * the calls in flight grow, never more than {@code n}; a burst of completions costs no thread start
 * per call, only a hand-off to a parked worker.
 *
 * <p>Ordered: results go into a ring of {@code n} slots indexed by the element's number. Whichever
 * worker fills the slot at the head takes the emitter's role (a flag, one holder at a time), hands
 * on every consecutive result that is ready, in one {@code sendAll}, then returns their permits.
 * There is no emitter thread. A permit is held from dispatch until its result was handed on, so
 * calls in flight plus results waiting are at most {@code n}, and the element numbered {@code s +
 * n} is dispatched only after slot {@code s} was emptied. Unordered: a worker sends its result on
 * itself and then returns its permit.
 *
 * <p>A worker puts itself on the idle stack before its permit can be returned, so when the
 * dispatcher holds a permit and {@code n} workers exist, one of them is idle (or the run is
 * stopping). At the end of the input the dispatcher marks the input ended and wakes every worker;
 * idle workers then end, busy ones once their call is handed on. When the run stops (a call failed,
 * a cancel, a cut region) the run interrupts every thread, parked workers included, and a worker
 * woken by an interrupt ends; it throws the interrupt only if its stage is not stopping.
 *
 * <p>Counters: {@code in} is the dispatcher's; {@code out} (unordered), {@code inFlight} and {@code
 * busy} are kept per worker (one writer each, no atomic instruction per call) and summed on read
 * through {@link StageCounters#share}; ordered {@code out} is written by the emitter's role holder
 * only.
 */
final class ConcurrentStage implements StageBody, StageCounters.Shares {

  private final RunScope scope;
  private final StageCounters st;
  private final PolicyRunner calls;
  private final int maxInFlight;
  private final boolean ordered;
  private final Channel<Object> in;
  private final Outlet out;

  /** Calls in flight plus results not yet handed on. */
  private final Semaphore window;

  /** Ordered: slot {@code seq % n} holds the result of element {@code seq} until handed on. */
  private final AtomicReferenceArray<Object> ring;

  /** Ordered: who holds the emitter's role. */
  private final AtomicBoolean emitting = new AtomicBoolean();

  /** Ordered, the emitter's (guarded by {@link #emitting}): the next element to hand on. */
  private long head;

  /** Ordered, the emitter's (guarded by {@link #emitting}): the chunk it hands on. */
  private final Object[] emitBuf;

  /** Every worker started; written by the dispatcher, read by snapshots up to {@link #started}. */
  private final Worker[] workers;

  private volatile int started;

  /** The top of the stack of idle workers (pushed by workers, popped by the dispatcher only). */
  private final AtomicReference<Worker> idle = new AtomicReference<>();

  private volatile boolean inputEnded;

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
    this.window = new Semaphore(maxInFlight);
    this.ring = ordered ? new AtomicReferenceArray<>(maxInFlight) : null;
    this.emitBuf = ordered ? Chunks.newChunk(out.channel) : null;
    this.workers = new Worker[maxInFlight];
  }

  // ------------------------------------------------------------------ the dispatcher

  @Override
  public void run() throws Exception {
    st.share(this);
    Object[] chunk = Chunks.newChunk(in);
    long seq = 0;
    try {
      while (true) {
        int k = Chunks.take(in, chunk, chunk.length, -1);
        if (k < 0) {
          break; // end of input
        }
        st.in.getAndAdd(k);
        for (int i = 0; i < k; i++) {
          Object item = chunk[i];
          chunk[i] = null;
          window.acquire();
          dispatch(item, seq++);
        }
      }
    } finally {
      endInput(); // also when stopping: a worker never waits for input that will not come
    }
    window.acquire(maxInFlight); // every call has ended and its result was handed on
    out.producerDone();
  }

  private void dispatch(Object item, long seq) {
    Worker w = popIdle();
    if (w != null) {
      w.seq = seq;
      w.item = item; // volatile: publishes seq
      LockSupport.unpark(w.thread);
      return;
    }
    int s = started;
    if (s == maxInFlight) {
      // n workers and none idle while we hold a permit: some worker ended, so the run is stopping
      if (!scope.isStopping(st)) {
        throw new AssertionError("stage '" + st.name + "': no idle worker of " + s);
      }
      return;
    }
    w = new Worker();
    w.seq = seq;
    w.item = item;
    workers[s] = w;
    started = s + 1;
    w.thread = scope.fork(st, w);
  }

  private void endInput() {
    inputEnded = true;
    for (int i = 0, s = started; i < s; i++) {
      Thread t = workers[i].thread;
      if (t != null) {
        LockSupport.unpark(t);
      }
    }
  }

  private Worker popIdle() {
    while (true) {
      Worker top = idle.get();
      if (top == null) {
        return null;
      }
      // only the dispatcher pops, so top cannot be popped and pushed again meanwhile (no ABA)
      if (idle.compareAndSet(top, top.next)) {
        top.next = null;
        return top;
      }
    }
  }

  private void pushIdle(Worker w) {
    while (true) {
      Worker top = idle.get();
      w.next = top;
      if (idle.compareAndSet(top, w)) {
        return;
      }
    }
  }

  // ------------------------------------------------------------------ ordered hand-on

  /**
   * Hands on every consecutive ready result at the head, if no other worker is doing so. A worker
   * that fills a slot while another holds the role leaves it to that one: the holder checks the
   * head again after giving the role up (both accesses are volatile, so one of the two sees the
   * other's write).
   */
  private void emit() throws InterruptedException {
    int n = maxInFlight;
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
            out.channel.sendAll(emitBuf, k);
            Arrays.fill(emitBuf, 0, k, null);
            st.out.lazySet(st.out.get() + k);
          }
          head = h;
          window.release(taken);
        }
      } finally {
        emitting.set(false);
      }
      if (ring.get((int) (h % n)) == null) {
        return;
      }
    }
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

  /** One worker thread: calls, hands on, waits for its next element; ends at the input's end. */
  private final class Worker implements StageBody {
    Thread thread; // the dispatcher's: set when started, read when waking the worker
    Worker next; // the idle stack's link
    long seq; // written by the dispatcher before item
    volatile Object item; // the element to call next; null while idle

    // this worker's counters: written by it only (release), summed by snapshots (acquire)
    private long outCount;
    private int calling;
    private long busy;

    @Override
    public void run() throws Exception {
      Object x = item;
      while (x != null) {
        long s = seq;
        item = null;
        Object r = call(x);
        pushIdle(this); // before the permit can come back: see the class comment
        if (ordered) {
          ring.set((int) (s % maxInFlight), r);
          emit();
        } else {
          if (r != PolicyRunner.DROPPED) {
            out.channel.send(r);
            OUT.setRelease(this, outCount + 1);
          }
          window.release();
        }
        x = awaitItem();
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

    /** {@return the next element, or null when this worker is to end} */
    private Object awaitItem() throws InterruptedException {
      while (true) {
        Object x = item;
        if (x != null) {
          return x;
        }
        if (inputEnded) {
          return item; // dispatched before the end was marked, or null
        }
        if (Thread.interrupted()) {
          if (scope.isStopping(st)) {
            return null;
          }
          throw new InterruptedException();
        }
        LockSupport.park(this);
      }
    }
  }
}
