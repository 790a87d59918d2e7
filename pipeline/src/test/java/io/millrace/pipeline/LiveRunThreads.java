package io.millrace.pipeline;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Counts, exactly, the threads of the runs it listens to that still count as running: each run
 * keeps its own count, this listener only collects the runs. A thread stops counting before it
 * hands its permit on, so a bound like "no more threads than calls in flight" holds for this count
 * at every instant, and it is 0 the moment a terminal operation returns. (A count by name in a
 * thread dump, as {@link NoLeakedRunThreads} takes, also sees threads that are exiting.)
 *
 * <p>Attach it last ({@code Pipeline.merge} drops its inputs' listeners); one per test or
 * iteration. Shipped in the pipeline test-jar for the other modules' tests.
 */
public final class LiveRunThreads implements RunListener {
  private final Queue<Run<?>> runs = new ConcurrentLinkedQueue<>();

  /** Creates a counter that has seen no run yet. */
  public LiveRunThreads() {}

  @Override
  public void onStart(RunHandle<?> run) {
    runs.add((Run<?>) run);
  }

  /** {@return the threads of the runs seen so far that count as running now} */
  public int count() {
    int n = 0;
    for (Run<?> r : runs) {
      n += r.liveThreads();
    }
    return n;
  }
}
