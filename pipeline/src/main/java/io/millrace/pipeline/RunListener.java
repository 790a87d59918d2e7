package io.millrace.pipeline;

/**
 * Observes runs of a pipeline, for example to export {@link RunHandle#stats()} as metrics. Set with
 * {@link Pipeline#withListener(RunListener)}.
 *
 * <p>Callbacks must be quick and must not throw; a {@code RuntimeException} thrown by one is
 * ignored; an {@code Error} goes to the uncaught-exception handler of the thread that called the
 * callback. Either way the run goes on, the other listeners are told, and the run ends as it would
 * have.
 */
public interface RunListener {

  /**
   * Called once, on the thread that starts the run, before any stage runs. {@link RunHandle#join()}
   * throws here ({@code IllegalStateException}): the run starts only after this returns.
   *
   * @param run the run, whose {@link RunHandle#stats()} stays live until it ends
   */
  default void onStart(RunHandle<?> run) {}

  /**
   * Called once, after every stage thread of the run has ended and before the run counts as done
   * (so a terminal operation returns only after this did). {@link RunHandle#join()} does not wait
   * here: it returns, or throws the outcome, at once.
   *
   * @param run the run
   * @param finalStats the counters at the end
   * @param failure {@code null} on success; the {@link PipelineException} or {@link
   *     java.util.concurrent.CancellationException} the run ends with otherwise
   */
  default void onEnd(RunHandle<?> run, PipelineStats finalStats, Throwable failure) {}
}
