package io.millrace.pipeline;

import java.util.Objects;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code pipeline.toPublisher()}: a Reactive Streams publisher that runs the pipeline once per
 * subscription.
 *
 * <p>{@link #subscribe} calls {@code onSubscribe} on the caller's thread, then (unless the
 * subscriber cancelled or made a bad request in it) starts a fresh run whose sink is the
 * subscription ({@link RunSubscription#accept}). Every {@code onNext} is made by that run's sink
 * thread, one at a time, and only against demand: the sink waits while demand is 0, so the run's
 * bounded buffers fill and back-pressure reaches the source. The terminal signal is made by the
 * run's end ({@link RunListener#onEnd}), which comes after every thread of the run (the sink's
 * included) has ended: so it comes after the last {@code onNext}, with a happens-before edge (rule
 * 1.3), and once nothing of the run is running.
 */
final class PipelinePublisher<T> implements Flow.Publisher<T> {
  private final Pipeline<T> pipeline;

  PipelinePublisher(Pipeline<T> pipeline) {
    this.pipeline = pipeline;
  }

  @Override
  public void subscribe(Flow.Subscriber<? super T> subscriber) {
    Objects.requireNonNull(subscriber, "rule 1.9: subscribe(null)");
    RunSubscription<T> subscription = new RunSubscription<>(subscriber);
    try {
      subscriber.onSubscribe(subscription);
    } catch (RuntimeException | Error e) {
      subscription.cancel(); // rule 2.13: the subscription counts as cancelled; the caller is told
      throw e;
    }
    subscription.start(pipeline);
  }

  @Override
  public String toString() {
    return "Publisher[" + pipeline + "]";
  }

  /**
   * One subscription: the demand, the sink of its run, and the listener that makes the terminal
   * signal.
   *
   * <p>Demand is a saturating counter: {@code request} adds (a sum past {@code Long.MAX_VALUE}
   * stays {@code Long.MAX_VALUE}, rule 3.17) and wakes the sink if it was 0; the sink takes one per
   * element, except at {@code Long.MAX_VALUE}, which counts as unbounded. {@code request} never
   * calls the subscriber, so a request from {@code onNext} does not recurse (rules 3.2, 3.3).
   */
  static final class RunSubscription<T>
      implements Flow.Subscription, ThrowingConsumer<T>, RunListener {
    private final AtomicLong demand = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition demanded = lock.newCondition();
    private final AtomicBoolean ended = new AtomicBoolean(); // the terminal signal, decided once
    // the subscriber, until it cancels or is told the end: then dropped (rule 3.13)
    private volatile Flow.Subscriber<? super T> subscriber;
    private volatile boolean cancelled;
    private volatile IllegalArgumentException badRequest; // rule 3.9
    private volatile Throwable subscriberFault; // a signal threw (rule 2.13)
    private volatile RunHandle<T> run;

    RunSubscription(Flow.Subscriber<? super T> subscriber) {
      this.subscriber = subscriber;
    }

    /** Starts the run, unless the subscriber already cancelled or made a bad request. */
    void start(Pipeline<T> pipeline) {
      if (stopped()) {
        terminate(null);
        return;
      }
      RunHandle<T> h;
      try {
        h = pipeline.withListener(this).start(this);
      } catch (RuntimeException e) { // a one-shot source already used: the run cannot start
        terminate(e);
        return;
      }
      run = h; // onStart set it already
      if (stopped()) { // cancel() or request(0) may have run before run was set: saw no run
        h.cancel();
      }
    }

    private boolean stopped() {
      return cancelled || badRequest != null;
    }

    private void stopRun() {
      RunHandle<T> h = run;
      if (h != null) {
        h.cancel();
      }
    }

    @Override
    public void request(long n) {
      if (cancelled || ended.get()) {
        return; // rule 3.6
      }
      if (n <= 0) {
        if (badRequest == null) {
          badRequest =
              new IllegalArgumentException(
                  "rule 3.9: non-positive subscription request (" + n + ")");
        }
        stopRun(); // its end signals onError(badRequest)
        return;
      }
      long before = demand.getAndAccumulate(n, RunSubscription::saturatedSum);
      if (before == 0) {
        lock.lock();
        try {
          demanded.signalAll();
        } finally {
          lock.unlock();
        }
      }
    }

    private static long saturatedSum(long a, long b) {
      long sum = a + b; // both >= 0
      return sum < 0 ? Long.MAX_VALUE : sum;
    }

    @Override
    public void cancel() {
      cancelled = true;
      subscriber = null;
      stopRun();
    }

    /** The run's sink, on its sink thread: waits for demand, then hands the element on. */
    @Override
    public void accept(T item) throws Exception {
      if (demand.get() == 0) {
        lock.lockInterruptibly();
        try {
          while (demand.get() == 0) {
            if (((Run<T>) run).isStopping()) {
              return; // onNext swallowed the stop's interrupt: stop all the same
            }
            demanded.await(); // the run's stop (cancel, request(0), a failure) interrupts it
          }
        } finally {
          lock.unlock();
        }
      }
      Flow.Subscriber<? super T> s = subscriber;
      if (s == null || badRequest != null) {
        return; // cancelled: the run is stopping
      }
      if (demand.get() != Long.MAX_VALUE) {
        demand.decrementAndGet(); // only this thread takes, so demand stays >= 0
      }
      try {
        s.onNext(item);
      } catch (Throwable t) {
        subscriberFault = t;
        cancel();
        if (t instanceof Error e) {
          throw e;
        }
        throw t instanceof Exception e ? e : new IllegalStateException("onNext threw", t);
      }
    }

    @SuppressWarnings("unchecked")
    @Override
    public void onStart(RunHandle<?> r) {
      run = (RunHandle<T>) r; // before any stage thread is forked: the sink sees it
    }

    @Override
    public void onEnd(RunHandle<?> r, PipelineStats finalStats, Throwable failure) {
      terminate(failure);
    }

    /**
     * Makes the terminal signal, at most once: {@code onError} with the bad request's exception,
     * else {@code onComplete} if the run succeeded, else {@code onError} with the run's {@link
     * PipelineException} or {@link java.util.concurrent.CancellationException}; none if the
     * subscriber cancelled. What a subscriber throws from a signal goes to the calling thread's
     * uncaught-exception handler (rule 2.13).
     */
    private void terminate(Throwable runFailure) {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      Flow.Subscriber<? super T> s = subscriber;
      subscriber = null;
      Throwable fault = subscriberFault;
      if (fault != null) {
        report(fault);
        return;
      }
      if (s == null) {
        return; // cancelled
      }
      Throwable bad = badRequest;
      try {
        if (bad != null) {
          s.onError(bad);
        } else if (runFailure == null) {
          s.onComplete();
        } else {
          s.onError(runFailure);
        }
      } catch (RuntimeException | Error e) {
        report(e);
      }
    }

    private static void report(Throwable t) {
      Thread self = Thread.currentThread();
      self.getUncaughtExceptionHandler().uncaughtException(self, t);
    }
  }
}
