package io.millrace.pipeline;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Keeps every run it is told of, so a test whose runs are started by code it does not drive (a
 * publisher's {@code subscribe}, the TCK) can end them and check that they ended: nothing of a run
 * may be left running once it was cancelled and joined.
 */
final class TrackedRuns implements RunListener {
  private final Queue<Run<?>> runs = new ConcurrentLinkedQueue<>();

  @Override
  public void onStart(RunHandle<?> run) {
    runs.add((Run<?>) run);
  }

  /** {@return how many runs were started so far} */
  int started() {
    return runs.size();
  }

  /** {@return the threads of the runs seen so far that count as running now} */
  int liveThreads() {
    int n = 0;
    for (Run<?> r : runs) {
      n += r.liveThreads();
    }
    return n;
  }

  /**
   * Cancels every run seen so far, waits for each to end, and forgets them.
   *
   * @param limit how long each run may take to end once cancelled
   * @throws AssertionError naming the runs still going after {@code limit}, or whose threads still
   *     count as running after they ended
   */
  void cancelAllAndAwait(Duration limit) throws InterruptedException {
    List<String> stuck = new ArrayList<>();
    Run<?> r;
    while ((r = runs.poll()) != null) {
      r.cancel();
      long deadline = System.nanoTime() + limit.toNanos();
      while (!r.isDone() && System.nanoTime() < deadline) {
        Thread.sleep(1);
      }
      if (!r.isDone() || r.liveThreads() != 0) {
        stuck.add(r + " (" + r.liveThreads() + " threads)");
      }
    }
    if (!stuck.isEmpty()) {
      throw new AssertionError(
          "runs not ended "
              + limit
              + " after cancel: "
              + stuck
              + NoLeakedRunThreads.dumpRunThreads());
    }
  }
}
