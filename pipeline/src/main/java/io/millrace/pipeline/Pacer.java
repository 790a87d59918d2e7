package io.millrace.pipeline;

import java.util.concurrent.TimeUnit;

/**
 * The clock and the sleep of a {@code throttle} stage, injectable so tests need not wait for real
 * time to pass. {@link #SYSTEM} is {@link System#nanoTime()} and {@link TimeUnit#sleep}.
 */
interface Pacer {
  /** {@return now, in nanoseconds from an arbitrary origin, never going backwards} */
  long nanoTime();

  /**
   * Waits {@code nanos} (nothing if not positive).
   *
   * @throws InterruptedException if the thread is interrupted meanwhile (the run stops)
   */
  void sleepNanos(long nanos) throws InterruptedException;

  /** The real clock. */
  Pacer SYSTEM =
      new Pacer() {
        @Override
        public long nanoTime() {
          return System.nanoTime();
        }

        @Override
        public void sleepNanos(long nanos) throws InterruptedException {
          TimeUnit.NANOSECONDS.sleep(nanos);
        }
      };
}
