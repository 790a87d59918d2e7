package io.millrace.pipeline;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

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

  PolicyRunner(
      RunScope scope, StageCounters st, ErrorPolicy policy, ThrowingFunction<Object, Object> fn) {
    this.scope = scope;
    this.st = st;
    this.policy = policy;
    this.fn = fn;
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
    Object r = fn.apply(item);
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
      if (scope.isStopping()) {
        throw failureOfCall;
      }
      // resolve the policy for this failure; a Retry that runs out hands over to its orElse
      resolve:
      while (true) {
        switch (p) {
          case ErrorPolicy.Retry r -> {
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
}
