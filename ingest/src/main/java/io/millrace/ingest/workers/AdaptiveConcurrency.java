package io.millrace.ingest.workers;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * A concurrency limit for requests to one store that adapts to the store (AIMD): permits are handed
 * out while fewer than {@link #limit()} are held, and every finished request reports its latency
 * and {@link UploadOutcome}, from which the limit grows by one or shrinks by a factor. The limit
 * stays between 1 and the ceiling ({@code MAX_WORKERS}).
 *
 * <p>Thread-safe. {@link #acquire()} blocks and is interruptible; a permit is held until {@link
 * #release(long, UploadOutcome)} or {@link #release()}, which must be called exactly once per
 * permit, by any thread. The clock is injected (nanoseconds, like {@link System#nanoTime}), so
 * tests run on simulated time and never sleep.
 */
/*
 * The algorithm, after Vector's adaptive request concurrency (vector.dev RFC 1858, "Automatically
 * adjust request limits", 2020) and the min-RTT filter of TCP BBR (Cardwell et al., ACM Queue
 * 2016):
 *
 * - Time is cut into windows of about one round trip: a window ends at the first release at least
 *   max(minWindow, smoothed RTT) after it began. Decisions happen only when a window ends, on the
 *   releasing thread; there is no timer.
 * - Per window: the mean RTT of its OK requests, folded into an EWMA (smoothing). The baseline is the
 *   lowest window mean seen within the last `floorHorizon` (BBR keeps min RTT for 10 s), so a store
 *   that became slower for good becomes the new normal after that horizon, while a store that
 *   recovers lowers the baseline at once.
 * - At a window's end: if the smoothed RTT is above max(baseline * tolerance, baseline + slack), the
 *   limit is multiplied
 *   by (baseline * tolerance / smoothed RTT), clamped to [errorDecrease, latencyDecrease] (at most
 *   0.9 like Vector, at least 0.5; and at least -1): a small rise trims the limit, a store that got
 *   ten times slower halves it every window (the gradient of Netflix's concurrency-limits). Else,
 *   if the window had the limit fully in use at some point, the limit grows by one (additive
 *   increase only while the limit is what holds requests back, so an idle client does not
 *   inflate it).
 * - Back-pressure (THROTTLED: 503 SlowDown or 429; TIMEOUT; SERVER_ERROR: other 5xx) cuts the limit
 *   at once by errorDecrease (0.5, TCP's halving) and starts a new window, so a burst of failures
 *   from one window of requests cuts the limit once, not once per failure.
 * - Permits already held are never revoked: after a cut, new permits wait until fewer than the new
 *   limit are held.
 */
public final class AdaptiveConcurrency {

  /** Why the limit changed. */
  public enum Reason {
    /** A window ran at the limit with latency near its floor: +1. */
    GROW,
    /** The smoothed latency rose above the floor times the tolerance. */
    LATENCY,
    /** A request reported {@link UploadOutcome#TIMEOUT}. */
    TIMEOUT,
    /** A request reported {@link UploadOutcome#SERVER_ERROR}. */
    SERVER_ERROR,
    /** A request reported {@link UploadOutcome#THROTTLED}. */
    THROTTLED
  }

  /**
   * Told of every change of the limit, in the order they happen. It runs on the thread that
   * released the permit, while this controller's lock is held: it must be quick, must not block,
   * and may read {@link #limit()} but should not acquire or release permits.
   */
  @FunctionalInterface
  public interface Listener {
    /** The limit changed {@code from} one value {@code to} another, for {@code reason}. */
    void limitChanged(int from, int to, Reason reason);
  }

  private final int ceiling;
  private final LongSupplier clock;
  private final long minWindowNanos;
  private final long floorHorizonNanos;
  private final long slackNanos;
  private final ConcurrencyTuning tuning;
  private final Listener listener;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition permitFree = lock.newCondition();

  // all guarded by lock
  private int limit;
  private int held;
  private long windowStart;
  private long windowRttSum;
  private int windowRttCount;
  private boolean windowAtLimit;
  private double smoothedRtt = -1;
  private double floorRtt = -1;
  private long floorStamp;
  private boolean cutOnce;
  private long lastCut;

  private AdaptiveConcurrency(Builder b) {
    this.ceiling = b.ceiling;
    this.clock = b.clock;
    this.tuning = b.tuning;
    this.minWindowNanos = tuning.minWindow().toNanos();
    this.floorHorizonNanos = tuning.floorHorizon().toNanos();
    this.slackNanos = tuning.latencySlack().toNanos();
    this.listener = b.listener;
    this.limit = Math.min(b.initial, b.ceiling);
    this.windowStart = clock.getAsLong();
  }

  /**
   * {@return a builder for a controller whose limit never exceeds {@code ceiling}}
   *
   * @param ceiling the largest limit, at least 1 ({@code MAX_WORKERS})
   */
  public static Builder builder(int ceiling) {
    return new Builder(ceiling);
  }

  /**
   * Waits until fewer than {@link #limit()} permits are held, then takes one.
   *
   * @throws InterruptedException if interrupted while waiting; no permit is taken then, and the
   *     interrupt status is cleared as usual for a thrown {@code InterruptedException}
   */
  public void acquire() throws InterruptedException {
    acquire(-1);
  }

  /**
   * Takes a permit if one is free within {@code timeout}.
   *
   * @param timeout how long to wait at most; zero or negative means do not wait
   * @return whether a permit was taken
   * @throws InterruptedException if interrupted while waiting; no permit is taken then
   */
  public boolean tryAcquire(Duration timeout) throws InterruptedException {
    return acquire(Math.max(0, timeout.toNanos()));
  }

  // nanos < 0: no deadline
  private boolean acquire(long nanos) throws InterruptedException {
    lock.lockInterruptibly();
    try {
      while (held >= limit) {
        if (nanos == 0) {
          return false;
        }
        try {
          nanos = nanos < 0 ? awaitForever() : Math.max(0, permitFree.awaitNanos(nanos));
        } catch (InterruptedException e) {
          // a signal meant for us may have been consumed by the interrupted await: pass it on
          if (held < limit) {
            permitFree.signal();
          }
          throw e;
        }
      }
      take();
      return true;
    } finally {
      lock.unlock();
    }
  }

  // lock held
  private long awaitForever() throws InterruptedException {
    permitFree.await();
    return -1;
  }

  // lock held
  private void take() {
    held++;
    if (held >= limit) {
      windowAtLimit = true;
    }
    if (held < limit) {
      permitFree.signal(); // a raised limit may have room for more than one waiter
    }
  }

  /**
   * Gives a permit back and reports how its request went.
   *
   * @param rttNanos how long the request took, in the clock's nanoseconds (ignored unless {@code
   *     outcome} is {@link UploadOutcome#OK})
   * @param outcome how it ended
   * @throws IllegalStateException if no permit is held
   */
  public void release(long rttNanos, UploadOutcome outcome) {
    Objects.requireNonNull(outcome, "outcome");
    lock.lock();
    try {
      giveBack();
      long now = clock.getAsLong();
      if (outcome.backPressure()) {
        backOff(now, outcome);
      } else if (outcome == UploadOutcome.OK) {
        windowRttSum += Math.max(0, rttNanos);
        windowRttCount++;
        if (now - windowStart >= windowLength()) {
          endWindow(now);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Gives a permit back without reporting anything (the request was not sent, or was cancelled).
   *
   * @throws IllegalStateException if no permit is held
   */
  public void release() {
    lock.lock();
    try {
      giveBack();
    } finally {
      lock.unlock();
    }
  }

  // lock held
  private void giveBack() {
    if (held == 0) {
      throw new IllegalStateException("release() without a permit held");
    }
    held--;
    if (held < limit) {
      permitFree.signal();
    }
  }

  // lock held
  private void backOff(long now, UploadOutcome outcome) {
    // at most one cut per window length: the requests in flight together all meet the same overload
    if (cutOnce && now - lastCut < windowLength()) {
      return;
    }
    cutOnce = true;
    lastCut = now;
    Reason reason =
        switch (outcome) {
          case TIMEOUT -> Reason.TIMEOUT;
          case SERVER_ERROR -> Reason.SERVER_ERROR;
          default -> Reason.THROTTLED;
        };
    setLimit((int) Math.min(limit - 1, Math.floor(limit * tuning.errorDecrease())), reason);
    startWindow(now);
  }

  // lock held
  private long windowLength() {
    return Math.max(minWindowNanos, (long) smoothedRtt);
  }

  // lock held
  private void endWindow(long now) {
    double mean = (double) windowRttSum / windowRttCount;
    double alpha = tuning.smoothing();
    smoothedRtt = smoothedRtt < 0 ? mean : alpha * mean + (1 - alpha) * smoothedRtt;
    if (floorRtt < 0 || mean <= floorRtt || now - floorStamp > floorHorizonNanos) {
      floorRtt = mean;
      floorStamp = now;
    }
    double tolerated = Math.max(floorRtt * tuning.tolerance(), floorRtt + slackNanos);
    if (smoothedRtt > tolerated) {
      // the further above the tolerated latency, the deeper the cut, between the two factors
      double factor =
          Math.max(
              tuning.errorDecrease(), Math.min(tuning.latencyDecrease(), tolerated / smoothedRtt));
      setLimit((int) Math.min(limit - 1, Math.floor(limit * factor)), Reason.LATENCY);
    } else if (windowAtLimit) {
      setLimit(limit + 1, Reason.GROW);
    }
    startWindow(now);
  }

  // lock held
  private void startWindow(long now) {
    windowStart = now;
    windowRttSum = 0;
    windowRttCount = 0;
    windowAtLimit = held >= limit;
  }

  // lock held
  private void setLimit(int to, Reason reason) {
    int bounded = Math.max(1, Math.min(ceiling, to));
    if (bounded == limit) {
      return;
    }
    int from = limit;
    limit = bounded;
    if (held < limit) {
      permitFree.signal(); // each taker signals the next while room is left
    }
    listener.limitChanged(from, bounded, reason);
  }

  /** {@return the current limit, between 1 and the ceiling} */
  public int limit() {
    lock.lock();
    try {
      return limit;
    } finally {
      lock.unlock();
    }
  }

  /** {@return how many permits are held now (may exceed the limit just after a cut)} */
  public int inFlight() {
    lock.lock();
    try {
      return held;
    } finally {
      lock.unlock();
    }
  }

  /** {@return the ceiling given at construction} */
  public int ceiling() {
    return ceiling;
  }

  /**
   * {@return the smoothed round-trip time, or {@link Duration#ZERO} before the first window ended}
   */
  public Duration smoothedRtt() {
    lock.lock();
    try {
      return Duration.ofNanos(Math.max(0, (long) smoothedRtt));
    } finally {
      lock.unlock();
    }
  }

  /** Builds an {@link AdaptiveConcurrency}; each setter validates its value. */
  public static final class Builder {
    private final int ceiling;
    private int initial = 1;
    private LongSupplier clock = System::nanoTime;
    private ConcurrencyTuning tuning = ConcurrencyTuning.DEFAULT;
    private Listener listener = (from, to, reason) -> {};

    private Builder(int ceiling) {
      if (ceiling < 1) {
        throw new IllegalArgumentException("ceiling must be at least 1: " + ceiling);
      }
      this.ceiling = ceiling;
    }

    /**
     * {@return this builder}
     *
     * @param initial the limit to start from, 1 by default; capped at the ceiling
     */
    public Builder initial(int initial) {
      if (initial < 1) {
        throw new IllegalArgumentException("initial limit must be at least 1: " + initial);
      }
      this.initial = initial;
      return this;
    }

    /**
     * {@return this builder}
     *
     * @param nanoClock a monotonic clock in nanoseconds, {@code System::nanoTime} by default
     */
    public Builder clock(LongSupplier nanoClock) {
      this.clock = Objects.requireNonNull(nanoClock, "clock");
      return this;
    }

    /**
     * {@return this builder}
     *
     * @param tuning the algorithm's constants, {@link ConcurrencyTuning#DEFAULT} by default
     */
    public Builder tuning(ConcurrencyTuning tuning) {
      this.tuning = Objects.requireNonNull(tuning, "tuning");
      return this;
    }

    /**
     * {@return this builder}
     *
     * @param listener told of each change of the limit (see {@link Listener} for its contract)
     */
    public Builder listener(Listener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** {@return the controller} */
    public AdaptiveConcurrency build() {
      return new AdaptiveConcurrency(this);
    }
  }

  @Override
  public String toString() {
    lock.lock();
    try {
      return "AdaptiveConcurrency[limit=" + limit + "/" + ceiling + ", inFlight=" + held + "]";
    } finally {
      lock.unlock();
    }
  }
}
