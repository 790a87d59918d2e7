package io.millrace.ingest.workers;

import java.time.Duration;

/**
 * The constants of {@link AdaptiveConcurrency}'s algorithm (see the notes in that class). The
 * defaults suit an S3-compatible store; they rarely need changing.
 *
 * @param minWindow the shortest window between two decisions (20 ms)
 * @param floorHorizon how long the lowest window latency stays the baseline (10 s)
 * @param smoothing the EWMA weight of the newest window's mean latency, in (0, 1) (0.4)
 * @param tolerance how far above its baseline the smoothed latency may go before the limit shrinks,
 *     a factor in (1, 100) (1.5)
 * @param latencyDecrease the mildest cut on rising latency, in (0, 1) (0.9; a steeper rise cuts
 *     deeper, down to {@code errorDecrease})
 * @param errorDecrease the cut on back-pressure, in (0, latencyDecrease] (0.5)
 * @param latencySlack latency above the baseline that is always tolerated, whatever the factor
 *     (zero by default; the service uses {@link #SERVICE}): a store whose round trip is a few
 *     milliseconds and grows with every request in flight (a CPU-bound local store) would otherwise
 *     be held at one or two uploads in flight, for a gain of microseconds
 */
public record ConcurrencyTuning(
    Duration minWindow,
    Duration floorHorizon,
    double smoothing,
    double tolerance,
    double latencyDecrease,
    double errorDecrease,
    Duration latencySlack) {

  /** The defaults. */
  public static final ConcurrencyTuning DEFAULT =
      new ConcurrencyTuning(Duration.ofMillis(20), Duration.ofSeconds(10), 0.4, 1.5, 0.9, 0.5);

  /**
   * What the service's uploads use: the defaults with 50 ms of latency slack, so the limit falls
   * when the store gets slow by tens of milliseconds or more (or throttles, fails, times out) and
   * not for the few milliseconds of queueing that more uploads in flight cost a fast store.
   */
  public static final ConcurrencyTuning SERVICE = DEFAULT.withLatencySlack(Duration.ofMillis(50));

  /** The constants without latency slack. */
  public ConcurrencyTuning(
      Duration minWindow,
      Duration floorHorizon,
      double smoothing,
      double tolerance,
      double latencyDecrease,
      double errorDecrease) {
    this(
        minWindow,
        floorHorizon,
        smoothing,
        tolerance,
        latencyDecrease,
        errorDecrease,
        Duration.ZERO);
  }

  /** Checks every value's range. */
  public ConcurrencyTuning {
    positive(minWindow, "minWindow");
    positive(floorHorizon, "floorHorizon");
    factor(smoothing, "smoothing");
    if (!(tolerance > 1.0 && tolerance < 100)) {
      throw new IllegalArgumentException("tolerance must be in (1, 100): " + tolerance);
    }
    factor(latencyDecrease, "latencyDecrease");
    factor(errorDecrease, "errorDecrease");
    if (errorDecrease > latencyDecrease) {
      throw new IllegalArgumentException(
          "errorDecrease must not exceed latencyDecrease: "
              + errorDecrease
              + " > "
              + latencyDecrease);
    }
    if (latencySlack == null || latencySlack.isNegative()) {
      throw new IllegalArgumentException("latencySlack must be zero or positive: " + latencySlack);
    }
  }

  /**
   * {@return these constants with another minimum window}
   *
   * @param window the shortest window between two decisions
   */
  public ConcurrencyTuning withMinWindow(Duration window) {
    return new ConcurrencyTuning(
        window, floorHorizon, smoothing, tolerance, latencyDecrease, errorDecrease, latencySlack);
  }

  /**
   * {@return these constants with another latency slack}
   *
   * @param slack latency above the baseline always tolerated
   */
  public ConcurrencyTuning withLatencySlack(Duration slack) {
    return new ConcurrencyTuning(
        minWindow, floorHorizon, smoothing, tolerance, latencyDecrease, errorDecrease, slack);
  }

  private static void positive(Duration d, String name) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be positive: " + d);
    }
  }

  private static void factor(double f, String name) {
    if (!(f > 0 && f < 1)) {
      throw new IllegalArgumentException(name + " must be in (0, 1): " + f);
    }
  }
}
