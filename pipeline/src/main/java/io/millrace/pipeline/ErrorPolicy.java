package io.millrace.pipeline;

import java.time.Duration;
import java.util.Objects;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import java.util.random.RandomGenerator;

/**
 * What a stage does when its function throws for an element. Set with {@link
 * Pipeline#onError(ErrorPolicy)}; the default is {@link #fail()}.
 *
 * <p>A closed set: {@link Fail}, {@link Skip}, {@link Retry}, {@link Divert}. Every policy is
 * counted in the stage's {@link StageStats}: each call that threw in {@code failed}, each retry in
 * {@code retried}, each dropped element in {@code skipped}, each dead-lettered one in {@code
 * diverted}.
 *
 * <p>No policy can block a run forever: a retry waits a bounded backoff and is interrupted by
 * cancellation; a divert consumer runs on the stage's thread and, if it throws, fails the run. An
 * exception that is the consequence of the run being cancelled (an interrupt in flight) is never
 * retried, skipped or diverted.
 */
public sealed interface ErrorPolicy {

  /** {@return the default policy: the first failure cancels the run and is reported} */
  static ErrorPolicy fail() {
    return Fail.INSTANCE;
  }

  /** {@return a policy that drops the element and goes on} */
  static ErrorPolicy skip() {
    return Skip.INSTANCE;
  }

  /**
   * Returns a policy that calls the function again, up to {@code maxAttempts} calls in all, waiting
   * an exponentially growing backoff with jitter between calls. When the attempts run out, the
   * {@link Retry#orElse(ErrorPolicy) orElse} policy takes over (default: fail the run).
   *
   * @param maxAttempts total calls per element, at least 1
   * @param firstBackoff the wait before the second call, not negative
   * @return the policy
   */
  static Retry retry(int maxAttempts, Duration firstBackoff) {
    return new Retry(
        maxAttempts,
        firstBackoff,
        firstBackoff.multipliedBy(64),
        Retry.DEFAULT_JITTER,
        fail(),
        Retry.ANY);
  }

  /**
   * Returns a policy that hands the failed element and its exception to {@code deadLetter} (on the
   * stage's thread) and goes on without it.
   *
   * @param deadLetter receives (element, exception); if it throws, the run fails
   * @return the policy
   */
  static ErrorPolicy divert(BiConsumer<Object, Throwable> deadLetter) {
    return new Divert(deadLetter);
  }

  /** Fail-fast: the first failure cancels the run. */
  enum Fail implements ErrorPolicy {
    /** The only instance. */
    INSTANCE
  }

  /** Drop the element. */
  enum Skip implements ErrorPolicy {
    /** The only instance. */
    INSTANCE
  }

  /**
   * Hand the element to a dead-letter consumer.
   *
   * @param deadLetter receives (element, exception)
   */
  record Divert(BiConsumer<Object, Throwable> deadLetter) implements ErrorPolicy {
    /** Validates the consumer. */
    public Divert {
      Objects.requireNonNull(deadLetter, "deadLetter");
    }
  }

  /**
   * Retry with exponential backoff and jitter. The wait after the {@code k}-th failed call is
   * {@code min(firstBackoff * 2^(k-1), maxBackoff)}, reduced by a random fraction of at most {@code
   * jitter} (so with the default 0.5 it lies between half and all of it).
   *
   * @param maxAttempts total calls per element, at least 1
   * @param firstBackoff the wait before the second call
   * @param maxBackoff the longest wait
   * @param jitter the largest random reduction, a fraction in [0, 1]
   * @param orElse what to do when the attempts run out, or at once for a failure {@code retryOn}
   *     rejects
   * @param retryOn which failures are retried ({@link #retryOn(Predicate)}); by default all
   */
  record Retry(
      int maxAttempts,
      Duration firstBackoff,
      Duration maxBackoff,
      double jitter,
      ErrorPolicy orElse,
      Predicate<? super Throwable> retryOn)
      implements ErrorPolicy {

    /** The default jitter fraction. */
    public static final double DEFAULT_JITTER = 0.5;

    /** The default {@code retryOn}: every failure is retried. */
    static final Predicate<Throwable> ANY = t -> true;

    /**
     * A policy that retries every failure, as before {@code retryOn} existed.
     *
     * @param maxAttempts total calls per element, at least 1
     * @param firstBackoff the wait before the second call
     * @param maxBackoff the longest wait
     * @param jitter the largest random reduction, a fraction in [0, 1]
     * @param orElse what to do when the attempts run out
     */
    public Retry(
        int maxAttempts,
        Duration firstBackoff,
        Duration maxBackoff,
        double jitter,
        ErrorPolicy orElse) {
      this(maxAttempts, firstBackoff, maxBackoff, jitter, orElse, ANY);
    }

    /** Validates every component. */
    public Retry {
      if (maxAttempts < 1) {
        throw new IllegalArgumentException("maxAttempts must be >= 1, was " + maxAttempts);
      }
      Objects.requireNonNull(firstBackoff, "firstBackoff");
      Objects.requireNonNull(maxBackoff, "maxBackoff");
      Objects.requireNonNull(orElse, "orElse");
      Objects.requireNonNull(retryOn, "retryOn");
      if (firstBackoff.isNegative()) {
        throw new IllegalArgumentException(
            "firstBackoff must not be negative, was " + firstBackoff);
      }
      if (maxBackoff.compareTo(firstBackoff) < 0) {
        throw new IllegalArgumentException(
            "maxBackoff (" + maxBackoff + ") must be >= firstBackoff (" + firstBackoff + ")");
      }
      if (!(jitter >= 0 && jitter <= 1)) {
        throw new IllegalArgumentException("jitter must be in [0, 1], was " + jitter);
      }
    }

    /**
     * {@return this policy, handing over to {@code next} when the attempts run out}
     *
     * @param next typically {@link ErrorPolicy#skip()} or {@link ErrorPolicy#divert}
     */
    public Retry orElse(ErrorPolicy next) {
      return new Retry(maxAttempts, firstBackoff, maxBackoff, jitter, next, retryOn);
    }

    /**
     * Returns this policy retrying only the failures {@code which} accepts; any other failure goes
     * straight to the {@link #orElse(ErrorPolicy) orElse} policy (by default: fail the run), with
     * no retry and no backoff. Each failed call is tested, so a series that began with a retryable
     * failure stops retrying at the first failure that is not. The test runs on the stage's thread
     * (the call's, in a concurrent stage); if it throws, the run fails.
     *
     * <pre>{@code
     * ErrorPolicy.retry(5, Duration.ofMillis(100))
     *     .retryOn(e -> e instanceof java.io.IOException)
     *     .orElse(ErrorPolicy.divert(deadLetters::add))
     * }</pre>
     *
     * @param which accepts the failures to retry
     * @return the new policy
     */
    public Retry retryOn(Predicate<? super Throwable> which) {
      return new Retry(maxAttempts, firstBackoff, maxBackoff, jitter, orElse, which);
    }

    /**
     * {@return this policy with a different cap on the wait}
     *
     * @param max the longest wait, at least {@code firstBackoff}
     */
    public Retry withMaxBackoff(Duration max) {
      return new Retry(maxAttempts, firstBackoff, max, jitter, orElse, retryOn);
    }

    /**
     * {@return this policy with a different jitter}
     *
     * @param fraction the largest random reduction of a wait, in [0, 1]; 0 for none
     */
    public Retry withJitter(double fraction) {
      return new Retry(maxAttempts, firstBackoff, maxBackoff, fraction, orElse, retryOn);
    }

    /**
     * Computes the wait after the {@code failedCalls}-th failed call.
     *
     * @param failedCalls how many calls have failed so far, at least 1
     * @param random the source of jitter
     * @return the wait, between {@code (1 - jitter)} and all of the capped exponential backoff
     */
    public Duration backoff(int failedCalls, RandomGenerator random) {
      long first = firstBackoff.toNanos();
      long max = maxBackoff.toNanos();
      int shift = Math.min(Math.max(failedCalls - 1, 0), 62);
      long base = first == 0 ? 0 : (first > (max >> shift) ? max : Math.min(max, first << shift));
      double factor = 1.0 - jitter * random.nextDouble();
      return Duration.ofNanos((long) (base * factor));
    }
  }
}
