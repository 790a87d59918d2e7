package io.millrace.pipeline;

import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * How a run ends: a small state machine, running → failed | cancelled, and ended.
 *
 * <p>The first stage failure or cancellation wins and is kept; the caller that was told "first"
 * stops the run. A later failure is attached as suppressed unless it is a consequence of the stop
 * (an interrupt, a failed buffer, a cancellation). Once {@link #end} was called (every stage thread
 * has ended) a cancellation has no effect. Thread-safe: every field is guarded by {@code lock},
 * which is held only to read or write them.
 */
final class Outcome {
  private final ReentrantLock lock = new ReentrantLock();
  // guarded by lock
  private Throwable failure;
  private String failedStage;
  private String cancelMessage;
  private Throwable cancelCause;
  private boolean ended;
  private final List<Throwable> suppressed = new ArrayList<>();

  /**
   * Records that {@code stage} failed with {@code e}.
   *
   * @return whether this is the run's first outcome (then the caller must stop the run)
   */
  boolean fail(String stage, Throwable e) {
    boolean consequence = isConsequenceOfStop(e); // before the lock: getCause() is foreign code
    lock.lock();
    try {
      if (failure == null && cancelMessage == null) {
        failure = e;
        failedStage = stage;
        return true;
      }
      if (!consequence) {
        suppressed.add(e);
      }
      return false;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Records a cancellation, unless the run already failed, was cancelled or has ended.
   *
   * @param message the message of the {@link CancellationException} the run ends with
   * @param cause its cause, or {@code null}
   * @return whether this is the run's first outcome (then the caller must stop the run)
   */
  boolean cancel(String message, Throwable cause) {
    lock.lock();
    try {
      if (failure == null && cancelMessage == null && !ended) {
        cancelMessage = message;
        cancelCause = cause;
        return true;
      }
      return false;
    } finally {
      lock.unlock();
    }
  }

  /** Every stage thread has ended: from now on {@link #cancel} has no effect. */
  void end() {
    lock.lock();
    try {
      ended = true;
    } finally {
      lock.unlock();
    }
  }

  /** {@return the exception the run ends with, or null on success; a fresh one on each call} */
  RuntimeException exception() {
    lock.lock();
    try {
      RuntimeException ex;
      if (failure != null) {
        ex = new PipelineException(failedStage, failure);
      } else if (cancelMessage != null) {
        ex = new CancellationException(cancelMessage);
        if (cancelCause != null) {
          ex.initCause(cancelCause);
        }
      } else {
        return null;
      }
      for (Throwable s : suppressed) {
        ex.addSuppressed(s);
      }
      return ex;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether {@code e} or any of its causes says the run's stop caused it. A cause chain may be a
   * cycle ({@code initCause} only refuses the throwable itself), so the walk remembers what it saw.
   */
  static boolean isConsequenceOfStop(Throwable e) {
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable c = e; c != null && seen.add(c); c = c.getCause()) {
      if (c instanceof InterruptedException
          || c instanceof InterruptedIOException
          || c instanceof ClosedByInterruptException
          || c instanceof CancellationException
          || c instanceof ChannelClosedException) {
        return true;
      }
    }
    return false;
  }
}
