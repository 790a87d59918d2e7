package io.millrace.pipeline;

import java.time.Duration;

/**
 * A running pipeline, returned by {@link Pipeline#start(ThrowingConsumer)}.
 *
 * <p>{@link #cancel()} only asks (cancel-and-return); {@link #join()} waits. A run is done only
 * when every thread it started has ended, so after {@code join} returns or throws, no user function
 * of the run is still executing.
 *
 * @param <T> the element type the sink receives
 */
public interface RunHandle<T> {

  /**
   * Asks the run to stop: stops the source, interrupts every user function in flight and closes
   * every buffer. Returns at once; use {@link #join()} to wait. No effect on a finished run or when
   * the run already failed.
   */
  void cancel();

  /**
   * Waits until the run has ended and every thread it started has ended.
   *
   * <p>Called from {@link RunListener#onEnd} of this run, it does not wait (every other thread of
   * the run has ended and the outcome is final): it returns or throws as it will for everyone.
   *
   * @throws InterruptedException if the waiting thread is interrupted (the run goes on)
   * @throws PipelineException if a stage failed
   * @throws java.util.concurrent.CancellationException if the run was cancelled or timed out
   * @throws IllegalStateException if called from {@link RunListener#onStart} of this run, where it
   *     would wait forever (the run starts after {@code onStart} returns)
   */
  void join() throws InterruptedException;

  /**
   * Waits at most {@code timeout} for the run to end; if it ended, reports as {@link #join()}.
   *
   * @param timeout the longest wait
   * @return {@code true} if the run ended (successfully), {@code false} if it is still running
   * @throws InterruptedException if the waiting thread is interrupted (the run goes on)
   * @throws PipelineException if a stage failed
   * @throws java.util.concurrent.CancellationException if the run was cancelled or timed out
   * @throws IllegalStateException if called from {@link RunListener#onStart} of this run
   */
  boolean join(Duration timeout) throws InterruptedException;

  /** {@return whether the run has ended and all its threads with it} */
  boolean isDone();

  /** {@return a snapshot of every stage's live counters} */
  PipelineStats stats();
}
