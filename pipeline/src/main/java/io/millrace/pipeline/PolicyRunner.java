package io.millrace.pipeline;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Calls a stage's function under the stage's {@link ErrorPolicy}: on a failure it retries (with
 * backoff), skips, diverts or fails, and counts what it did in the stage's counters.
 *
 * <p>Stateless between calls, so the threads of a concurrent stage share one. A failure seen while
 * the run is stopping is never retried, skipped or diverted: it is thrown, and the run drops it as
 * a consequence of the stop.
 */
final class PolicyRunner {

  /** The result that means "no element": the policy dropped it, or a filter rejected it. */
  static final Object DROPPED = new Object();

  private final RunScope scope;
  private final StageCounters st;
  private final ErrorPolicy policy;
  private final ThrowingFunction<Object, Object> fn;
  private final long callTimeoutNanos; // 0: no limit
  private final String callTimeoutText;

  PolicyRunner(
      RunScope scope, StageCounters st, ErrorPolicy policy, ThrowingFunction<Object, Object> fn) {
    this(scope, st, policy, fn, null);
  }

  /**
   * Creates the runner.
   *
   * @param callTimeout the longest one call may take ({@code timeoutEach}), or {@code null}
   */
  PolicyRunner(
      RunScope scope,
      StageCounters st,
      ErrorPolicy policy,
      ThrowingFunction<Object, Object> fn,
      java.time.Duration callTimeout) {
    this.scope = scope;
    this.st = st;
    this.policy = policy;
    this.fn = fn;
    this.callTimeoutNanos = callTimeout == null ? 0 : callTimeout.toNanos();
    this.callTimeoutText = callTimeout == null ? null : callTimeout.toString();
  }

  /**
   * Calls the function for {@code item}.
   *
   * @return the result, or {@link #DROPPED} if the policy dropped the element
   * @throws Exception the failure, when the policy fails the run or the run is stopping
   */
  Object call(Object item) throws Exception {
    try {
      return apply(item);
    } catch (Exception e) {
      return recover(item, e);
    }
  }

  /** Like {@link #call}, counted as in flight and busy while it runs (for concurrent stages). */
  Object callTimed(Object item) throws Exception {
    st.inFlight.getAndIncrement();
    long t0 = System.nanoTime();
    try {
      return call(item);
    } finally {
      st.busyNanos.getAndAdd(System.nanoTime() - t0);
      st.inFlight.getAndDecrement();
    }
  }

  private Object apply(Object item) throws Exception {
    Object r = callTimeoutNanos > 0 ? applyWithin(item) : fn.apply(item);
    if (r == null) {
      throw new NullPointerException("stage '" + st.name + "' function returned null");
    }
    return r;
  }

  /** The policy's answer to a failed call: call again until it succeeds, drop, or throw. */
  private Object recover(Object item, Exception failure) throws Exception {
    ErrorPolicy p = policy;
    Exception failureOfCall = failure;
    int failedCalls = 0;
    while (true) {
      st.failed.getAndIncrement();
      failedCalls++;
      if (scope.isStopping(st)) {
        throw failureOfCall;
      }
      // resolve the policy for this failure; a Retry that runs out hands over to its orElse
      resolve:
      while (true) {
        switch (p) {
          case ErrorPolicy.Retry r -> {
            if (!r.retryOn().test(failureOfCall)) {
              p = r.orElse(); // not a failure this policy retries: straight to the fallback
              failedCalls = 0;
              continue resolve;
            }
            if (failedCalls < r.maxAttempts()) {
              st.retried.getAndIncrement();
              Duration wait = r.backoff(failedCalls, ThreadLocalRandom.current());
              if (!wait.isZero()) {
                Thread.sleep(wait);
              }
              break resolve; // call again
            }
            p = r.orElse();
            failedCalls = 0;
            if (p instanceof ErrorPolicy.Retry) {
              break resolve; // a fresh series of attempts
            }
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
      }
      try {
        return apply(item);
      } catch (Exception e) {
        failureOfCall = e;
      }
    }
  }

  // ---- timeoutEach ----

  /**
   * Calls the function with a watcher thread (a thread of the run, of this stage) that interrupts
   * the call if it is still running after the timeout. The call then fails with a {@link
   * TimeoutException} whatever it returned or threw, and the stage's policy handles that. The
   * watcher's interrupt never leaks: the call's thread waits until the watcher has either given up
   * or delivered it, then clears it (unless the run is stopping, whose interrupt it keeps).
   */
  private Object applyWithin(Object item) throws Exception {
    Watch w = new Watch(Thread.currentThread());
    Thread watcher = scope.fork(st, () -> w.watch(callTimeoutNanos));
    Object r;
    try {
      r = fn.apply(item);
    } catch (Exception e) {
      if (w.finish(watcher)) {
        throw timedOut(e);
      }
      throw e;
    } catch (Error e) {
      if (w.finish(watcher)) {
        clearWatcherInterrupt();
      }
      throw e;
    }
    if (w.finish(watcher)) {
      throw timedOut(null);
    }
    return r;
  }

  private Exception timedOut(Exception thrown) {
    boolean stopping = clearWatcherInterrupt();
    if (stopping && thrown != null) {
      return thrown; // the run's stop interrupted it too: a consequence of the stop
    }
    TimeoutException te =
        new TimeoutException(
            "a call of stage '"
                + st.name
                + "' ran longer than "
                + callTimeoutText
                + " (timeoutEach)");
    if (thrown != null) {
      te.addSuppressed(thrown);
    }
    return te;
  }

  /** Clears the watcher's interrupt; keeps the flag if the stage is stopping (the stop's own). */
  private boolean clearWatcherInterrupt() {
    Thread.interrupted();
    boolean stopping = scope.isStopping(st);
    if (stopping) {
      Thread.currentThread().interrupt();
    }
    return stopping;
  }

  /** One call's deadline: RUNNING, then DONE (the call ended first) or FIRING, TIMED_OUT. */
  private static final class Watch {
    private static final int RUNNING = 0;
    private static final int DONE = 1;
    private static final int FIRING = 2;
    private static final int TIMED_OUT = 3;
    private final Thread caller;
    private final AtomicInteger state = new AtomicInteger(RUNNING);

    Watch(Thread caller) {
      this.caller = caller;
    }

    /** The watcher's body: sleeps out the timeout, then interrupts the call if it still runs. */
    void watch(long nanos) {
      try {
        TimeUnit.NANOSECONDS.sleep(nanos);
      } catch (InterruptedException e) {
        return; // the call ended (or the run stopped)
      }
      if (state.compareAndSet(RUNNING, FIRING)) {
        caller.interrupt();
        state.set(TIMED_OUT);
      }
    }

    /**
     * Called by the caller when the call ended: {@return whether it timed out} Returns only once
     * the watcher is done with the caller's thread.
     */
    boolean finish(Thread watcher) {
      if (state.compareAndSet(RUNNING, DONE)) {
        watcher.interrupt(); // ends its sleep now
        return false;
      }
      while (state.get() == FIRING) {
        Thread.yield(); // the watcher is between its two steps: let it run them
      }
      return true;
    }
  }
}
