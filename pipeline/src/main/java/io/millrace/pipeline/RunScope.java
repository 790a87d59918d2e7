package io.millrace.pipeline;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The threads of one run, its deadline, and how it stops and ends.
 *
 * <p>Lifecycle. The run forks one virtual thread per stage (plus, for {@code mapConcurrent}, its
 * further workers, and for {@code mapConcurrentPartitioned}, one per key being called) with {@link
 * #fork}. A counter of live threads starts at 1 (a token held by the starter until every stage is
 * forked, given back with {@link #started}) so the run cannot finish while it is still being
 * started. The thread that brings the counter to 0 runs {@link #finish}: ends the {@link Outcome},
 * stops the deadline watchdog, closes what the run must close ({@link #closeAtEnd}), tells the
 * run's owner ({@code onEnd}) and releases {@link #done}. Joiners wait on {@code done}, so they
 * return only after every thread's work is over.
 *
 * <p>Stopping. The first failure or cancellation sets the outcome, then {@link #stop} sets {@code
 * stopping}, fails every buffer with a cancellation ("run N stopped") and interrupts every live
 * thread. A thread forked concurrently with {@code stop} either is seen by its iteration and
 * interrupted, or sees {@code stopping} when it begins (both are sequentially consistent accesses),
 * and then does nothing. Exceptions raised while stopping that are consequences of the stop
 * (interrupts, failed buffers) are dropped; anything else is attached to the outcome as suppressed.
 *
 * <p>Every thread of a run is a virtual thread named {@code millrace-<run id>-<stage>} (the
 * watchdog's stage is {@code deadline}), so a thread dump shows which run and stage it works for.
 * The scope keeps no state shared between runs but the counter of run ids.
 */
final class RunScope {

  private static final AtomicLong IDS = new AtomicLong();

  final long id = IDS.incrementAndGet();
  private final Outcome outcome = new Outcome();
  private final Consumer<RuntimeException> onEnd;
  private final List<Channel<?>> channels = new CopyOnWriteArrayList<>();
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
  private final ConcurrentHashMap<StageCounters, ThreadFactory> factories =
      new ConcurrentHashMap<>();
  private final List<Closer> closeAtEnd = new ArrayList<>(); // added before the first fork
  private final AtomicInteger live = new AtomicInteger(1);
  private final CountDownLatch done = new CountDownLatch(1);
  private final CountDownLatch stagesDone = new CountDownLatch(1);
  private volatile boolean stopping;
  private volatile CancellationException stopCause; // written before stopping
  private volatile Thread watchdog; // written by the starter before any stage is forked

  /**
   * Creates the scope of a run that has no thread yet.
   *
   * @param onEnd told the outcome (null on success) by the run's last thread, after every other
   *     thread of the run has ended and before the run counts as done
   */
  RunScope(Consumer<RuntimeException> onEnd) {
    this.onEnd = onEnd;
  }

  // ------------------------------------------------------------------ threads

  /**
   * Starts a thread of this run that runs {@code body} as part of stage {@code st}.
   *
   * @return the thread, started
   */
  Thread fork(StageCounters st, StageBody body) {
    return fork(st, body, null);
  }

  /**
   * Starts a thread of this run that runs {@code body} as part of stage {@code st}, then, once the
   * thread no longer counts as live, {@code afterExit} (which hands over its permit, so a new
   * thread is started only after this one stopped counting).
   *
   * @return the thread, started
   */
  Thread fork(StageCounters st, StageBody body, Runnable afterExit) {
    live.incrementAndGet();
    Region region = st.region;
    Thread t =
        threadFactory(st)
            .newThread(
                () -> {
                  try {
                    if (!stopping && (region == null || !region.isCut())) {
                      body.run();
                    }
                  } catch (Throwable e) {
                    fail(st, e);
                  } finally {
                    if (region != null) {
                      region.removeThread(Thread.currentThread());
                    }
                    exit(afterExit);
                  }
                });
    threads.add(t);
    if (region != null) {
      region.addThread(t);
    }
    t.start();
    return t;
  }

  /**
   * The factory of stage {@code st}'s threads in this run, made on its first fork: a stage that
   * forks a thread per key or call ({@code mapConcurrentPartitioned}, {@code timeoutEach}'s
   * watchers) then pays neither a builder nor a name per call.
   */
  private ThreadFactory threadFactory(StageCounters st) {
    ThreadFactory f = factories.get(st);
    if (f == null) {
      f =
          factories.computeIfAbsent(
              st, s -> Thread.ofVirtual().name("millrace-" + id + "-" + s.name).factory());
    }
    return f;
  }

  /** Gives back the starter's token: every stage is forked. */
  void started() {
    exit(null);
  }

  private void exit(Runnable afterExit) {
    threads.remove(Thread.currentThread());
    if (afterExit != null) {
      afterExit.run();
    }
    if (live.decrementAndGet() == 0) {
      finish();
    }
  }

  /** Makes {@code ch} a buffer of this run: it is failed when the run stops. */
  void register(Channel<?> ch) {
    channels.add(ch);
    if (stopping) { // stop() either saw the channel or we see stopping
      ch.fail(stopCause);
    }
  }

  /**
   * Makes {@code ch} a buffer of stage {@code st}: failed when the run stops or when the stage's
   * {@link Region} is cut.
   */
  void register(StageCounters st, Channel<?> ch) {
    register(ch);
    if (st.region != null) {
      st.region.register(ch);
    }
  }

  /**
   * Has the run's end close {@code c} (a source's stream), after every thread of the run ended and
   * before the run's owner is told; a failure to close is a failure of stage {@code st}. For what a
   * stage closes itself when it runs, and would leave open if the run stopped before it ran: make
   * {@code c} idempotent. Called while the run is wired, before any thread is forked.
   */
  void closeAtEnd(StageCounters st, AutoCloseable c) {
    closeAtEnd.add(new Closer(st, c));
  }

  private record Closer(StageCounters st, AutoCloseable c) {}

  /** Starts the watchdog that cancels the run if it is still going after {@code timeout}. */
  void startWatchdog(Duration timeout) {
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
                  }
                });
    watchdog.start();
  }

  private static String format(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  private void finish() {
    outcome.end();
    stagesDone.countDown();
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
    try {
      for (Closer c : closeAtEnd) {
        try {
          c.c().close();
        } catch (Exception e) {
          fail(c.st(), e);
        }
      }
      onEnd.accept(outcome.exception());
    } finally {
      done.countDown(); // even after an Error from a close or a listener: joiners must not hang
    }
  }

  // ------------------------------------------------------------------ stopping

  /**
   * A thread of stage {@code st} failed with {@code e}; the first outcome stops the run. Dropped if
   * the stage's {@link Region} was cut (then it ended because the stage downstream of the region
   * has what it needs, or failed too late to matter).
   */
  void fail(StageCounters st, Throwable e) {
    if (st.region != null && st.region.isCut()) {
      return; // a consequence of the cut: the stage downstream has what it needs
    }
    if (outcome.fail(st.name, e)) {
      stop();
    }
  }

  /** Cancels the run, unless it already failed, was cancelled or ended. */
  void cancel(String message, Throwable cause) {
    if (outcome.cancel(message, cause)) {
      stop();
    }
  }

  private void stop() {
    stopCause = new CancellationException("run " + id + " stopped");
    stopping = true;
    for (Channel<?> ch : channels) {
      ch.fail(stopCause);
    }
    for (Thread t : threads) {
      t.interrupt();
    }
  }

  /** {@return whether the run is stopping: a failure or cancellation was recorded} */
  boolean isStopping() {
    return stopping;
  }

  /** {@return whether stage {@code st} is stopping: the run is, or the stage's region was cut} */
  boolean isStopping(StageCounters st) {
    return stopping || (st.region != null && st.region.isCut());
  }

  // ------------------------------------------------------------------ the end

  /** Waits until the run is done. */
  void awaitDone() throws InterruptedException {
    done.await();
  }

  /** Waits at most {@code timeout} until the run is done; returns whether it is. */
  boolean awaitDone(Duration timeout) throws InterruptedException {
    return done.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** {@return whether every thread of the run has ended and its owner was told} */
  boolean isDone() {
    return done.getCount() == 0;
  }

  /**
   * {@return how many threads of this run count as running now: stage and call threads whose work
   * is not over, and the watchdog} 0 once the run is done. For tests that check bounds and leaks.
   */
  int liveThreads() {
    Thread w = watchdog;
    return threads.size() + (w != null && w.isAlive() ? 1 : 0);
  }

  /** {@return the exception the run ends (or would now end) with, or null; fresh on each call} */
  RuntimeException outcome() {
    return outcome.exception();
  }
}
