package io.millrace.pipeline;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails any test that leaves a thread of a pipeline run alive.
 *
 * <p>A run's terminal operation must return only after every thread it started has finished its
 * work, so when a test method returns, the live-thread count of all runs must be 0 at once, and
 * every thread a run started must have terminated (a short grace covers a thread that has done its
 * last action and is exiting). On a failure the message holds the stack of every leaked thread, and
 * the extension waits a few seconds for them to end so the next test starts clean.
 *
 * <p>Use it with {@code @ExtendWith(NoLeakedRunThreads.class)} on any test class that runs
 * pipelines; it is shipped in the pipeline test-jar for the other modules' tests.
 */
public final class NoLeakedRunThreads implements BeforeEachCallback, AfterEachCallback {

  private static final long GRACE_MILLIS = 500;
  private static final long SETTLE_MILLIS = 5_000;

  @Override
  public void beforeEach(ExtensionContext context) {
    RunScope.trackedThreads = ConcurrentHashMap.newKeySet();
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    Set<Thread> tracked = RunScope.trackedThreads;
    RunScope.trackedThreads = null;
    int live = RunScope.LIVE_THREADS.get();
    List<Thread> stillAlive = aliveAfter(tracked, GRACE_MILLIS);
    if (live == 0 && stillAlive.isEmpty()) {
      return;
    }
    StringBuilder msg = new StringBuilder();
    msg.append("test left pipeline run threads alive: ")
        .append(live)
        .append(" still counted as running, ")
        .append(stillAlive.size())
        .append(" not terminated after ")
        .append(GRACE_MILLIS)
        .append(" ms");
    for (Thread t : stillAlive) {
      msg.append("\n  ").append(t).append(" state=").append(t.getState());
      for (StackTraceElement e : t.getStackTrace()) {
        msg.append("\n      at ").append(e);
      }
    }
    aliveAfter(tracked, SETTLE_MILLIS); // let them end before the next test
    long deadline = System.nanoTime() + SETTLE_MILLIS * 1_000_000;
    while (RunScope.LIVE_THREADS.get() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    RunScope.LIVE_THREADS.set(0);
    throw new AssertionError(msg.toString());
  }

  private static List<Thread> aliveAfter(Set<Thread> threads, long millis)
      throws InterruptedException {
    List<Thread> alive = new ArrayList<>();
    if (threads == null) {
      return alive;
    }
    long deadline = System.nanoTime() + millis * 1_000_000;
    for (Thread t : threads) {
      long left = deadline - System.nanoTime();
      if (left > 0) {
        t.join(Math.max(1, left / 1_000_000));
      }
      if (t.isAlive()) {
        alive.add(t);
      }
    }
    return alive;
  }

  /** {@return how many threads of pipeline runs are running now, across all runs} */
  public static int liveRunThreads() {
    return RunScope.LIVE_THREADS.get();
  }

  /**
   * Stack traces of every tracked run thread still alive, for a timeout message.
   *
   * @return a printable dump, empty if none is alive
   */
  public static String dumpRunThreads() {
    Set<Thread> tracked = RunScope.trackedThreads;
    StringBuilder sb = new StringBuilder();
    if (tracked == null) {
      return "";
    }
    for (Thread t : tracked) {
      if (t.isAlive()) {
        sb.append('\n').append(t).append(" state=").append(t.getState());
        for (StackTraceElement e : t.getStackTrace()) {
          sb.append("\n    at ").append(e);
        }
      }
    }
    return sb.toString();
  }
}
