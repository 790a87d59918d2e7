package io.millrace.pipeline;

import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One run of a pipeline: its threads, buffers, counters and outcome.
 *
 * <p>Lifecycle. {@link #start} wires a buffer in front of every stage and forks one virtual thread
 * per stage (plus, for {@code mapConcurrent}, one per call in flight). A counter of live threads
 * starts at 1 (a token held by {@code start} until every stage is forked) so the run cannot finish
 * while it is still being started. The thread that brings the counter to 0 runs {@link #finish}:
 * stops the deadline watchdog, notifies listeners and releases {@link #done}. Joiners wait on
 * {@code done}, so they return only after every thread's work is over.
 *
 * <p>Stopping. The first failure or cancellation sets the outcome (under {@link #outcomeLock}),
 * then {@link #stop} sets {@code stopping}, fails every buffer with {@link #STOP} and interrupts
 * every live thread. A thread forked concurrently with {@code stop} either is seen by its iteration
 * and interrupted, or sees {@code stopping} when it begins (both are sequentially consistent
 * accesses), and then does nothing. Exceptions raised while stopping that are consequences of the
 * stop (interrupts, failed buffers) are dropped; anything else is attached to the outcome as
 * suppressed.
 */
final class Run<T> implements RunHandle<T> {

  /** Threads of all runs alive now, for leak checks in tests. */
  static final AtomicInteger LIVE_THREADS = new AtomicInteger();

  /** Threads of all runs, for leak checks in tests; null unless a test turned tracking on. */
  static volatile Set<Thread> trackedThreads;

  private static final AtomicLong IDS = new AtomicLong();

  /** How long a stage may hold produced elements before handing them on. */
  static final long LINGER_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

  /** The cause every buffer is failed with when a run stops. */
  static final CancellationException STOP = new CancellationException("run stopped");

  private static final Object DROPPED = new Object();

  private final long id = IDS.incrementAndGet();
  private final List<Stage> stages = new ArrayList<>();
  private final List<Channel<?>> channels = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final Set<String> names = new HashSet<>();
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
  private final AtomicInteger live = new AtomicInteger(1);
  private final CountDownLatch done = new CountDownLatch(1);
  private final CountDownLatch stagesDone = new CountDownLatch(1);
  private final List<RunListener> listeners;
  private final Duration timeout;
  private volatile boolean stopping;
  private Thread watchdog;

  private final ReentrantLock outcomeLock = new ReentrantLock();
  // guarded by outcomeLock
  private Throwable failure;
  private String failedStage;
  private String cancelMessage;
  private Throwable cancelCause;
  private final List<Throwable> suppressed = new ArrayList<>();

  private Run(List<RunListener> listeners, Duration timeout) {
    this.listeners = listeners;
    this.timeout = timeout;
  }

  static <T> Run<T> start(
      Node root, Duration timeout, List<RunListener> listeners, ThrowingConsumer<Object> sink) {
    Run<T> run = new Run<>(listeners, timeout);
    List<Runnable> tasks = new ArrayList<>();
    Outlet sinkIn = run.newOutlet(root.capacity());
    run.wire(root, sinkIn, tasks);
    Stage sinkStage = run.newStage("sink", null);
    tasks.add(() -> run.fork(sinkStage, () -> run.runSink(sinkStage, sink, sinkIn.channel)));
    for (RunListener l : listeners) {
      try {
        l.onStart(run);
      } catch (RuntimeException ignored) {
        // listeners must not break runs
      }
    }
    if (timeout != null) {
      run.startWatchdog(timeout);
    }
    for (Runnable t : tasks) {
      t.run();
    }
    run.exit(null); // release the starter token
    return run;
  }

  // ------------------------------------------------------------------ wiring

  /** A buffer and the number of stages still writing into it; closed when that reaches 0. */
  private static final class Outlet {
    final Channel<Object> channel;
    final AtomicInteger producers = new AtomicInteger();

    Outlet(Channel<Object> channel) {
      this.channel = channel;
    }

    void producerDone() {
      if (producers.decrementAndGet() == 0) {
        channel.close();
      }
    }
  }

  private Outlet newOutlet(int capacity) {
    Channel<Object> ch = Channel.buffered(capacity);
    channels.add(ch);
    return new Outlet(ch);
  }

  /** Registers the tasks that make {@code node} write into {@code out}. */
  private void wire(Node node, Outlet out, List<Runnable> tasks) {
    Node.Op op = node.op();
    if (op instanceof Node.MergeOp) {
      for (Node input : node.inputs()) {
        wire(input, out, tasks);
      }
      return;
    }
    out.producers.incrementAndGet();
    Channel<Object> in = null;
    if (!node.inputs().isEmpty()) {
      Node upstream = node.inputs().get(0);
      Outlet inlet = newOutlet(upstream.capacity());
      wire(upstream, inlet, tasks);
      in = inlet.channel;
    }
    Stage st = newStage(node.name() != null ? node.name() : op.kind(), out.channel);
    Channel<Object> input = in;
    ErrorPolicy policy = node.policy();
    tasks.add(
        switch (op) {
          case Node.IterableSource s ->
              () ->
                  fork(
                      st,
                      () ->
                          runIterator(
                              st,
                              s.iterable().iterator(),
                              null,
                              s.iterable() instanceof java.util.Collection<?>,
                              out));
          case Node.OnceSource s -> {
            if (!s.used().compareAndSet(false, true)) {
              throw new IllegalStateException(
                  "this pipeline's source is an Iterator or a Stream, which can be run only once");
            }
            yield () -> fork(st, () -> runIterator(st, s.iterator(), s.onEnd(), false, out));
          }
          case Node.ChannelSource s -> () -> fork(st, () -> runChannelSource(st, s.channel(), out));
          case Node.GenerateSource s -> () -> fork(st, () -> runGenerate(st, s.supplier(), out));
          case Node.MapOp m -> () -> fork(st, () -> runTransform(st, policy, input, out, m));
          case Node.FilterOp f -> () -> fork(st, () -> runTransform(st, policy, input, out, f));
          case Node.FlatMapOp f -> () -> fork(st, () -> runTransform(st, policy, input, out, f));
          case Node.ConcurrentOp c when c.ordered() ->
              () -> fork(st, () -> runOrdered(st, policy, c, input, out));
          case Node.ConcurrentOp c -> () -> fork(st, () -> runUnordered(st, policy, c, input, out));
          case Node.BatchOp b -> () -> fork(st, () -> runBatch(st, b, input, out));
          case Node.MergeOp m -> throw new AssertionError(m);
        });
  }

  private Stage newStage(String base, Channel<Object> output) {
    String name = base;
    for (int i = 2; !names.add(name); i++) {
      name = base + "#" + i;
    }
    Stage st = new Stage(name, output);
    stages.add(st);
    return st;
  }

  // ------------------------------------------------------------------ threads

  @FunctionalInterface
  private interface Body {
    void run() throws Exception;
  }

  /** Starts a thread of this run that runs {@code body} as part of stage {@code st}. */
  private void fork(Stage st, Body body) {
    fork(st, body, null);
  }

  /**
   * Starts a thread of this run that runs {@code body} as part of stage {@code st}, then, once the
   * thread no longer counts as live, {@code afterExit} (which hands over its permit, so a new
   * thread is started only after this one stopped counting).
   */
  private void fork(Stage st, Body body, Runnable afterExit) {
    live.incrementAndGet();
    LIVE_THREADS.incrementAndGet();
    Thread t =
        Thread.ofVirtual()
            .name("millrace-" + id + "-" + st.name)
            .unstarted(
                () -> {
                  try {
                    if (!stopping) {
                      body.run();
                    }
                  } catch (Throwable e) {
                    onStageFailure(st, e);
                  } finally {
                    exit(afterExit);
                  }
                });
    threads.add(t);
    Set<Thread> tracked = trackedThreads;
    if (tracked != null) {
      tracked.add(t);
    }
    t.start();
  }

  private void exit(Runnable afterExit) {
    Thread self = Thread.currentThread();
    if (threads.remove(self)) {
      LIVE_THREADS.decrementAndGet();
    }
    if (afterExit != null) {
      afterExit.run();
    }
    if (live.decrementAndGet() == 0) {
      finish();
    }
  }

  private void startWatchdog(Duration timeout) {
    LIVE_THREADS.incrementAndGet();
    watchdog =
        Thread.ofVirtual()
            .name("millrace-" + id + "-deadline")
            .unstarted(
                () -> {
                  try {
                    if (!stagesDone.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                      TimeoutException te = new TimeoutException("deadline of " + timeout);
                      cancel("pipeline timed out after " + format(timeout), te);
                    }
                  } catch (InterruptedException e) {
                    // the run ended first
                  } finally {
                    LIVE_THREADS.decrementAndGet();
                  }
                });
    Set<Thread> tracked = trackedThreads;
    if (tracked != null) {
      tracked.add(watchdog);
    }
    watchdog.start();
  }

  private void finish() {
    outcomeLock.lock();
    try {
      stagesDone.countDown(); // from now on cancel() has no effect
    } finally {
      outcomeLock.unlock();
    }
    if (watchdog != null) {
      boolean interrupted = false;
      while (true) {
        try {
          watchdog.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    Throwable outcome = outcomeException();
    PipelineStats finalStats = stats();
    for (RunListener l : listeners) {
      try {
        l.onEnd(this, finalStats, outcome);
      } catch (RuntimeException ignored) {
        // listeners must not break runs
      }
    }
    done.countDown();
  }

  // ------------------------------------------------------------------ outcome

  private void onStageFailure(Stage st, Throwable e) {
    boolean first;
    outcomeLock.lock();
    try {
      first = failure == null && cancelMessage == null;
      if (first) {
        failure = e;
        failedStage = st.name;
      } else if (!isConsequenceOfStop(e)) {
        suppressed.add(e);
      }
    } finally {
      outcomeLock.unlock();
    }
    if (first) {
      stop();
    }
  }

  private void cancel(String message, Throwable cause) {
    boolean first;
    outcomeLock.lock();
    try {
      first = failure == null && cancelMessage == null && stagesDone.getCount() > 0;
      if (first) {
        cancelMessage = message;
        cancelCause = cause;
      }
    } finally {
      outcomeLock.unlock();
    }
    if (first) {
      stop();
    }
  }

  private void stop() {
    stopping = true;
    for (Channel<?> ch : channels) {
      ch.fail(STOP);
    }
    for (Thread t : threads) {
      t.interrupt();
    }
  }

  private static boolean isConsequenceOfStop(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof InterruptedException
          || c instanceof InterruptedIOException
          || c instanceof ClosedByInterruptException
          || c instanceof CancellationException
          || c instanceof ChannelClosedException) {
        return true;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return false;
  }

  /** The exception the run ends with, or null on success. Fresh on each call. */
  private RuntimeException outcomeException() {
    outcomeLock.lock();
    try {
      RuntimeException ex;
      if (failure != null) {
        ex = new PipelineException(failedStage, failure);
      } else if (cancelMessage != null) {
        ex = new CancellationException(cancelMessage);
        if (cancelCause != null) {
          ex.initCause(cancelCause);
        }
      } else {
        return null;
      }
      for (Throwable s : suppressed) {
        ex.addSuppressed(s);
      }
      return ex;
    } finally {
      outcomeLock.unlock();
    }
  }

  // ------------------------------------------------------------------ RunHandle

  @Override
  public void cancel() {
    cancel("pipeline cancelled", null);
  }

  @Override
  public void join() throws InterruptedException {
    done.await();
    report();
  }

  @Override
  public boolean join(Duration timeout) throws InterruptedException {
    if (!done.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
      return false;
    }
    report();
    return true;
  }

  /** Waits for the end; an interrupt of the waiting thread cancels the run (and is kept). */
  void joinCancellingOnInterrupt() {
    boolean interrupted = false;
    while (true) {
      try {
        done.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
        cancel("pipeline cancelled: the thread waiting for it was interrupted", e);
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    report();
  }

  private void report() {
    RuntimeException ex = outcomeException();
    if (ex != null) {
      throw ex;
    }
  }

  @Override
  public boolean isDone() {
    return done.getCount() == 0;
  }

  @Override
  public PipelineStats stats() {
    List<StageStats> out = new ArrayList<>(stages.size());
    for (Stage s : stages) {
      out.add(s.snapshot());
    }
    return new PipelineStats(out);
  }

  @Override
  public String toString() {
    return "Run[" + id + (isDone() ? ", done" : stopping ? ", stopping" : ", running") + "]";
  }

  private static String format(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  // ------------------------------------------------------------------ stage bodies

  /**
   * Collects a stage's output and hands it on in chunks.
   *
   * <p>Reading the clock for every element would cost more than the hand-off it saves, so the
   * outbox reads it every {@code every} elements, where {@code every} adapts to the measured cost
   * of an element: about half of {@link #LINGER_NANOS} worth of elements, at least 1, at most a
   * chunk. Produced elements are handed on when a chunk is full, when the linger has passed since
   * the last hand-off, and always before the stage blocks for more input ({@link #flush}).
   */
  private static final class Outbox {
    private final Stage st;
    private final Outlet out;
    private final Object[] buf;
    private int n;
    private int every = 1;
    private int sinceCheck;
    private long lastCheck;
    private long lastFlush;

    Outbox(Stage st, Outlet out) {
      this.st = st;
      this.out = out;
      this.buf = new Object[Math.min(Pipeline.CHUNK, out.channel.capacity())];
    }

    /** Starts a stretch of work: the clock was just read. */
    void mark(long now) {
      lastCheck = now;
      lastFlush = now;
      sinceCheck = 0;
    }

    void add(Object v) throws InterruptedException {
      if (v == null) {
        throw new NullPointerException("stage '" + st.name + "' produced null");
      }
      buf[n++] = v;
      if (n == buf.length) {
        flush();
        return;
      }
      if (++sinceCheck >= every) {
        long now = System.nanoTime();
        long perElement = Math.max(1, (now - lastCheck) / sinceCheck);
        every = (int) Math.max(1, Math.min(Pipeline.CHUNK, LINGER_NANOS / (2 * perElement)));
        lastCheck = now;
        sinceCheck = 0;
        if (now - lastFlush > LINGER_NANOS) {
          flush();
          lastFlush = now;
        }
      }
    }

    void flush() throws InterruptedException {
      if (n > 0) {
        out.channel.sendAll(buf, n);
        st.out.getAndAdd(n);
        java.util.Arrays.fill(buf, 0, n, null);
        n = 0;
      }
    }

    /** Flushes and tells the buffer this producer is done. */
    void end() throws InterruptedException {
      flush();
      out.producerDone();
    }
  }

  /**
   * A source over an iterator. Iterating a collection never blocks, so its elements go out in
   * chunks; any other iterator (or a generator) may block between elements, so each element is
   * handed on at once: nothing produced waits for the next element to exist. (A stream may be
   * backed by anything, so it counts as "may block".)
   */
  private void runIterator(
      Stage st, Iterator<?> it, AutoCloseable onEnd, boolean neverBlocks, Outlet out)
      throws Exception {
    try {
      if (neverBlocks) {
        Outbox box = new Outbox(st, out);
        box.mark(System.nanoTime());
        long taken = 0;
        while (it.hasNext()) {
          Object v = it.next();
          if ((++taken & 63) == 0) {
            st.in.lazySet(taken);
          }
          box.add(v);
        }
        st.in.lazySet(taken);
        box.end();
      } else {
        while (it.hasNext()) {
          Object v = it.next();
          st.in.lazySet(st.in.get() + 1);
          sendOne(st, out, v);
        }
        out.producerDone();
      }
    } finally {
      if (onEnd != null) {
        onEnd.close();
      }
    }
  }

  private static void sendOne(Stage st, Outlet out, Object v) throws InterruptedException {
    if (v == null) {
      throw new NullPointerException("stage '" + st.name + "' produced null");
    }
    out.channel.send(v);
    st.out.lazySet(st.out.get() + 1);
  }

  private void runChannelSource(Stage st, Channel<?> source, Outlet out) throws Exception {
    Object[] buf = new Object[Math.min(Pipeline.CHUNK, out.channel.capacity())];
    while (true) {
      int n;
      try {
        n = source.drainTo(buf, buf.length, -1);
      } catch (ChannelClosedException e) {
        if (e.isFailure()) {
          onStageFailure(st, e.getCause());
          return;
        }
        break;
      }
      st.in.getAndAdd(n);
      out.channel.sendAll(buf, n);
      st.out.getAndAdd(n);
      java.util.Arrays.fill(buf, 0, n, null);
    }
    out.producerDone();
  }

  private void runGenerate(Stage st, ThrowingSupplier<?> supplier, Outlet out) throws Exception {
    while (true) {
      Object v = supplier.get(); // may block: hand each element on at once
      st.in.lazySet(st.in.get() + 1);
      sendOne(st, out, v);
    }
  }

  /** map, filter and flatMap: one thread, chunk in, chunk out. */
  private void runTransform(
      Stage st, ErrorPolicy policy, Channel<Object> in, Outlet out, Node.Op op) throws Exception {
    ThrowingFunction<Object, Object> fn =
        switch (op) {
          case Node.MapOp m -> m.fn();
          case Node.FilterOp f -> x -> f.predicate().test(x) ? x : DROPPED;
          case Node.FlatMapOp f -> f.fn()::apply;
          default -> throw new AssertionError(op);
        };
    boolean flat = op instanceof Node.FlatMapOp;
    Object[] chunk = new Object[Math.min(Pipeline.CHUNK, in.capacity())];
    Outbox box = new Outbox(st, out);
    while (true) {
      int n = take(in, chunk, chunk.length, -1);
      if (n < 0) {
        break; // end of input
      }
      st.in.getAndAdd(n);
      st.inFlight.lazySet(1);
      long t0 = System.nanoTime();
      box.mark(t0);
      for (int i = 0; i < n; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        Object r = call(st, policy, fn, item);
        if (r == DROPPED) {
          continue;
        }
        if (flat) {
          for (Object o : (Iterable<?>) r) {
            box.add(o);
          }
        } else {
          box.add(r);
        }
      }
      st.busyNanos.getAndAdd(System.nanoTime() - t0);
      st.inFlight.lazySet(0);
      box.flush();
    }
    box.end();
  }

  /**
   * Moves a chunk from a buffer of this run (see {@link Channel#drainTo}).
   *
   * @return how many elements were moved (0 only on timeout), or -1 at the end of the input
   * @throws ChannelClosedException if the run is stopping (its buffers are failed only then), a
   *     consequence of the stop that {@link #onStageFailure} drops
   */
  private static int take(Channel<Object> in, Object[] chunk, int max, long timeoutNanos)
      throws InterruptedException {
    try {
      return in.drainTo(chunk, max, timeoutNanos);
    } catch (ChannelClosedException e) {
      if (e.isFailure()) {
        throw e;
      }
      return -1;
    }
  }

  /**
   * Calls {@code fn} under the stage's error policy.
   *
   * @return the result, or {@link #DROPPED} if the policy dropped the element
   * @throws Exception the failure, when the policy fails the run or the run is stopping
   */
  private Object call(
      Stage st, ErrorPolicy policy, ThrowingFunction<Object, Object> fn, Object item)
      throws Exception {
    ErrorPolicy p = policy;
    int failedCalls = 0;
    while (true) {
      Exception failureOfCall;
      try {
        Object r = fn.apply(item);
        if (r == null) {
          throw new NullPointerException("stage '" + st.name + "' function returned null");
        }
        return r;
      } catch (Exception e) {
        failureOfCall = e;
      }
      st.failed.getAndIncrement();
      failedCalls++;
      if (stopping) {
        throw failureOfCall;
      }
      // resolve the policy for this failure; a Retry that runs out hands over to its orElse
      while (true) {
        switch (p) {
          case ErrorPolicy.Retry r -> {
            if (failedCalls < r.maxAttempts()) {
              st.retried.getAndIncrement();
              Duration wait = r.backoff(failedCalls, ThreadLocalRandom.current());
              if (!wait.isZero()) {
                Thread.sleep(wait);
              }
              break; // call again
            }
            p = r.orElse();
            failedCalls = 0;
            if (p instanceof ErrorPolicy.Retry) {
              break; // a fresh series of attempts
            }
            continue;
          }
          case ErrorPolicy.Skip s -> {
            st.skipped.getAndIncrement();
            return DROPPED;
          }
          case ErrorPolicy.Divert d -> {
            d.deadLetter().accept(item, failureOfCall);
            st.diverted.getAndIncrement();
            return DROPPED;
          }
          case ErrorPolicy.Fail f -> throw failureOfCall;
        }
        break;
      }
    }
  }

  /** mapConcurrent: a dispatcher (this thread), one thread per call, and an in-order emitter. */
  private void runOrdered(
      Stage st, ErrorPolicy policy, Node.ConcurrentOp op, Channel<Object> in, Outlet out)
      throws Exception {
    int n = op.maxInFlight();
    Semaphore window = new Semaphore(n);
    Channel<Object> pending = Channel.buffered(n);
    registerChannel(pending);
    fork(st, () -> emitInOrder(st, window, pending, out));
    Object[] chunk = new Object[Math.min(Pipeline.CHUNK, in.capacity())];
    while (true) {
      int k = take(in, chunk, chunk.length, -1);
      if (k < 0) {
        break; // end of input
      }
      st.in.getAndAdd(k);
      for (int i = 0; i < k; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        window.acquire();
        CompletableFuture<Object> slot = new CompletableFuture<>();
        pending.send(slot);
        Object[] result = new Object[1];
        fork(
            st,
            () -> result[0] = callTimed(st, policy, op.fn(), item),
            () -> {
              if (result[0] != null) {
                slot.complete(result[0]);
              } else {
                slot.completeExceptionally(STOP); // the failure itself went to onStageFailure
              }
            });
      }
    }
    pending.close();
  }

  private void emitInOrder(Stage st, Semaphore window, Channel<Object> pending, Outlet out)
      throws Exception {
    while (true) {
      Object slot;
      try {
        slot = pending.receive();
      } catch (ChannelClosedException e) {
        if (e.isFailure()) {
          return;
        }
        break;
      }
      Object r;
      try {
        r = ((CompletableFuture<?>) slot).get();
      } catch (ExecutionException e) {
        return; // the call's own thread reported the failure
      }
      window.release();
      if (r != DROPPED) {
        out.channel.send(r);
        st.out.getAndIncrement();
      }
    }
    out.producerDone();
  }

  /** mapConcurrentUnordered: a dispatcher (this thread) and one thread per call. */
  private void runUnordered(
      Stage st, ErrorPolicy policy, Node.ConcurrentOp op, Channel<Object> in, Outlet out)
      throws Exception {
    int n = op.maxInFlight();
    Semaphore permits = new Semaphore(n);
    Object[] chunk = new Object[Math.min(Pipeline.CHUNK, in.capacity())];
    while (true) {
      int k = take(in, chunk, chunk.length, -1);
      if (k < 0) {
        break; // end of input
      }
      st.in.getAndAdd(k);
      for (int i = 0; i < k; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        permits.acquire();
        fork(
            st,
            () -> {
              Object r = callTimed(st, policy, op.fn(), item);
              if (r != DROPPED) {
                out.channel.send(r);
                st.out.getAndIncrement();
              }
            },
            permits::release);
      }
    }
    permits.acquire(n); // every call has ended and handed on its result
    out.producerDone();
  }

  private Object callTimed(
      Stage st, ErrorPolicy policy, ThrowingFunction<Object, Object> fn, Object item)
      throws Exception {
    st.inFlight.getAndIncrement();
    long t0 = System.nanoTime();
    try {
      return call(st, policy, fn, item);
    } finally {
      st.busyNanos.getAndAdd(System.nanoTime() - t0);
      st.inFlight.getAndDecrement();
    }
  }

  private void runBatch(Stage st, Node.BatchOp op, Channel<Object> in, Outlet out)
      throws Exception {
    int maxSize = op.maxSize();
    Object[] chunk = new Object[Math.min(Pipeline.CHUNK, in.capacity())];
    List<Object> batch = null;
    long deadline = 0;
    while (true) {
      int room = batch == null ? maxSize : maxSize - batch.size();
      long wait = -1;
      if (batch != null) {
        wait = deadline - System.nanoTime();
        if (wait <= 0) {
          emitBatch(st, out, batch);
          batch = null;
          continue;
        }
      }
      int k = take(in, chunk, Math.min(chunk.length, room), wait);
      if (k < 0) {
        break; // end of input
      }
      if (k == 0) {
        continue; // timed out: the deadline check above emits
      }
      st.in.getAndAdd(k);
      if (batch == null) {
        batch = new ArrayList<>(Math.min(maxSize, 1024));
        deadline = System.nanoTime() + op.maxWaitNanos();
      }
      for (int i = 0; i < k; i++) {
        batch.add(chunk[i]);
        chunk[i] = null;
      }
      if (batch.size() == maxSize) {
        emitBatch(st, out, batch);
        batch = null;
      }
    }
    if (batch != null) {
      emitBatch(st, out, batch);
    }
    out.producerDone();
  }

  private static void emitBatch(Stage st, Outlet out, List<Object> batch)
      throws InterruptedException {
    out.channel.send(java.util.Collections.unmodifiableList(batch));
    st.out.getAndIncrement();
  }

  private void runSink(Stage st, ThrowingConsumer<Object> sink, Channel<Object> in)
      throws Exception {
    Object[] chunk = new Object[Math.min(Pipeline.CHUNK, in.capacity())];
    while (true) {
      int n;
      try {
        n = in.drainTo(chunk, chunk.length, -1);
      } catch (ChannelClosedException e) {
        return; // end of input, or stopping
      }
      st.in.getAndAdd(n);
      st.inFlight.lazySet(1);
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        sink.accept(item);
        st.out.lazySet(st.out.get() + 1);
      }
      st.busyNanos.getAndAdd(System.nanoTime() - t0);
      st.inFlight.lazySet(0);
    }
  }

  private void registerChannel(Channel<?> ch) {
    channels.add(ch);
    if (stopping) { // stop() either saw the channel or we see stopping
      ch.fail(STOP);
    }
  }

  // ------------------------------------------------------------------ counters

  /** A stage's live counters. */
  private static final class Stage {
    final String name;
    final Channel<Object> output;
    final AtomicLong in = new AtomicLong();
    final AtomicLong out = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final AtomicLong skipped = new AtomicLong();
    final AtomicLong retried = new AtomicLong();
    final AtomicLong diverted = new AtomicLong();
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicLong busyNanos = new AtomicLong();

    Stage(String name, Channel<Object> output) {
      this.name = name;
      this.output = output;
    }

    StageStats snapshot() {
      return new StageStats(
          name,
          in.get(),
          out.get(),
          failed.get(),
          skipped.get(),
          retried.get(),
          diverted.get(),
          inFlight.get(),
          output == null ? 0 : output.size(),
          Duration.ofNanos(busyNanos.get()));
    }
  }
}
