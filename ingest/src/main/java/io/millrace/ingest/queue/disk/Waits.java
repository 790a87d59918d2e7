package io.millrace.ingest.queue.disk;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** How a caller waits for its write: timeouts, withdrawal, interrupts. */
final class Waits {
  private Waits() {}

  /**
   * Submits a write and waits for it. A write still queued at the timeout or an interrupt is
   * withdrawn. One the writer has taken is waited for until the deadline ({@code settle} false:
   * appends, whose outcome the caller may leave unknown) or until its outcome, however long that
   * takes ({@code settle} true: control records, so the log's idea of pending batches and the
   * caller's never part). The first wait is untimed, its deadline kept by {@code deadlines}.
   */
  static Write await(Writer writer, Deadlines deadlines, Write w, Duration timeout, boolean settle)
      throws LogException, InterruptedException {
    writer.submit(w);
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      return deadlines.await(w.done, deadline);
    } catch (InterruptedException e) {
      if (writer.withdraw(w)) {
        throw e;
      }
      try {
        return settle ? settle(w) : outcome(writer, w, deadline);
      } finally {
        Thread.currentThread().interrupt();
      }
    } catch (TimeoutException e) {
      boolean withdrawn = writer.withdraw(w);
      if (settle && !withdrawn) {
        return settle(w);
      }
      throw timedOut(timeout, withdrawn);
    } catch (ExecutionException e) {
      throw (LogException) e.getCause();
    }
  }

  /** Waits for a taken write's outcome, however long; an interrupt is re-asserted on return. */
  private static Write settle(Write w) throws LogException {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return w.done.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          throw (LogException) e.getCause();
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Waits for a taken write's outcome until the deadline, ignoring interrupts. */
  private static Write outcome(Writer writer, Write w, long deadline) throws LogException {
    while (true) {
      long left = deadline - System.nanoTime();
      try {
        return w.done.get(Math.max(0, left), TimeUnit.NANOSECONDS);
      } catch (InterruptedException again) {
        // re-asserted by the caller
      } catch (TimeoutException e) {
        throw timedOut(Duration.ofNanos(left), writer.withdraw(w));
      } catch (ExecutionException e) {
        throw (LogException) e.getCause();
      }
    }
  }

  private static LogTimeoutException timedOut(Duration timeout, boolean withdrawn) {
    return new LogTimeoutException(
        "local log: not durable within "
            + timeout.toMillis()
            + " ms"
            + (withdrawn ? "; withdrawn, not written" : "; it may still be written"),
        !withdrawn);
  }
}
