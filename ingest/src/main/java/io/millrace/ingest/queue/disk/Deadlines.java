package io.millrace.ingest.queue.disk;

import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * The timeouts of the log's waiting callers, kept by one thread of the log's own, so a caller waits
 * for its write without a timer of its own. A timed wait of a virtual thread (one per request)
 * schedules and cancels a timer on the carrier pool's delay scheduler and wakes it twice; under
 * group commit that cost more CPU than the request's share of the fsync. Here a caller parks
 * untimed and this thread, waking every {@link #TICK_NANOS} while any caller waits (never while
 * none does), ends the waits whose deadline has passed.
 *
 * <p>Contract: {@link #await} returns the write's outcome as soon as it is known, or throws {@link
 * TimeoutException} at most {@link #TICK_NANOS} after the deadline (later only if this thread is
 * not scheduled), or {@link InterruptedException}. After {@link #stop}, waits no longer time out:
 * the log stops it only once the writer has ended, when every write's outcome is known.
 * Thread-safe.
 */
final class Deadlines implements Runnable {
  /** How late past its deadline a wait may end. */
  static final long TICK_NANOS = 2_000_000;

  private static final TimeoutException EXPIRED = new TimeoutException("deadline passed");

  private record Waiter(CompletableFuture<Write> answer, long deadline) {}

  private final ConcurrentLinkedQueue<Waiter> waiting = new ConcurrentLinkedQueue<>();
  private volatile Thread thread;
  private volatile boolean idle;
  private volatile boolean stopped;

  /**
   * Waits for {@code done} until {@code deadline} ({@link System#nanoTime} scale).
   *
   * @throws TimeoutException the deadline passed first; {@code done} is left as it is
   * @throws InterruptedException interrupted while waiting (the flag is cleared)
   * @throws ExecutionException the write failed
   */
  Write await(CompletableFuture<Write> done, long deadline)
      throws InterruptedException, ExecutionException, TimeoutException {
    if (done.isDone()) {
      return done.get();
    }
    CompletableFuture<Write> answer = new CompletableFuture<>();
    done.whenComplete(
        (w, x) -> {
          if (x == null) {
            answer.complete(w);
          } else {
            answer.completeExceptionally(x);
          }
        });
    waiting.add(new Waiter(answer, deadline));
    if (idle) {
      LockSupport.unpark(thread);
    }
    try {
      return answer.get();
    } catch (ExecutionException e) {
      if (e.getCause() == EXPIRED && !done.isDone()) {
        throw new TimeoutException("deadline passed");
      }
      if (e.getCause() == EXPIRED) {
        return done.get();
      }
      throw e;
    } finally {
      if (!answer.isDone()) {
        answer.cancel(false); // interrupted: let this thread drop the waiter
      }
    }
  }

  @Override
  public void run() {
    thread = Thread.currentThread();
    while (!stopped) {
      if (waiting.isEmpty()) {
        idle = true;
        if (waiting.isEmpty() && !stopped) {
          LockSupport.park(this);
        }
        idle = false;
        continue;
      }
      long now = System.nanoTime();
      for (Iterator<Waiter> it = waiting.iterator(); it.hasNext(); ) {
        Waiter w = it.next();
        if (w.answer.isDone()) {
          it.remove();
        } else if (now - w.deadline >= 0) {
          w.answer.completeExceptionally(EXPIRED);
          it.remove();
        }
      }
      LockSupport.parkNanos(this, TICK_NANOS);
    }
  }

  /** Ends {@link #run} (the caller joins the thread). */
  void stop(Thread t) {
    stopped = true;
    LockSupport.unpark(t);
  }
}
