package io.millrace.pipeline;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;

/**
 * Go's {@code select}: wait until one of several channel operations can complete, and do exactly
 * that one.
 *
 * <pre>{@code
 * // Go: select { case v := <-values: use(v); case <-done: return }
 * String v = Select.select(values.receiveClause(), done.receiveClause());
 *
 * // several cases, each mapped to a value, and a default case
 * Object r = Select.select(
 *     jobs.receiveClause(job -> run(job)),
 *     results.sendClause(last, () -> "sent"),
 *     Select.defaultClause("nothing ready"));
 * }</pre>
 *
 * <p>Clauses come from channels ({@link Channel#receiveClause()}, {@link
 * Channel#receiveClause(ThrowingFunction)}, {@link Channel#sendClause(Object)}, {@link
 * Channel#sendClause(Object, java.util.function.Supplier)}) and from {@link #defaultClause}.
 *
 * <p><b>Contract.</b>
 *
 * <ul>
 *   <li><b>Exactly one clause takes effect.</b> A select returns after one clause has completed:
 *       its receive took one element, or its send handed over one element (to a buffered channel:
 *       into the buffer; to a rendezvous channel: to a receiver, who has it when the select
 *       returns). No other clause of that select has received or sent anything. The select then
 *       returns the clause's value: the element, or what the clause's function makes of it, or for
 *       a send {@code null} or its supplier's value. A clause's function runs on the selecting
 *       thread after the clause has completed and no lock is held; if it throws, the clause has
 *       still taken effect, and the exception propagates (a checked one other than {@link
 *       InterruptedException} wrapped in a {@link CompletionException}).
 *   <li><b>Blocking.</b> {@link #select} waits, without a time limit, until a clause can complete.
 *       {@link #selectWithin} waits at most its timeout, then throws {@link TimeoutException}
 *       having done nothing. A {@link #defaultClause} makes either return its value at once when no
 *       other clause can complete at that moment. Waiting parks the thread (no monitor lock, no
 *       polling, no helper thread): cheap on virtual threads.
 *   <li><b>Fairness.</b> When several clauses can complete at the moment of the select, the one
 *       taken is the first of them counting from a clause picked at random, so a clause that is
 *       always ready is taken at least once in {@code n} selects on average, wherever it is in the
 *       list; with two clauses both ready, each wins half the time. Waiting selects are served
 *       oldest first by each channel.
 *   <li><b>Closed channels.</b> A receive clause whose channel is closed and drained, or a send
 *       clause whose channel is closed, is ready too: if it is chosen, the select throws {@link
 *       ChannelClosedException} (with the failure as cause if the channel was {@link Channel#fail
 *       failed}), as {@link Channel#receive()} and {@link Channel#send} do, having done nothing.
 *       Closing a channel wakes the selects waiting on it.
 *   <li><b>Interrupts.</b> If the thread is interrupted before or while waiting, the select throws
 *       {@link InterruptedException} and no clause has taken effect: nothing was received and lost,
 *       nothing was sent. If a clause completes at the same moment as the interrupt, the select
 *       returns that clause's value instead, with the thread's interrupt flag set.
 *   <li><b>Memory visibility.</b> As for the channel operations: actions before a send (or a send
 *       clause) happen-before the actions after the receive (or receive clause) that gets the
 *       element.
 *   <li>Nothing of a select outlives it: when it returns or throws, it is registered in no channel.
 *       A channel may appear in several clauses of one select.
 * </ul>
 */
public final class Select {
  private Select() {}

  /**
   * Waits until one of the clauses can complete, completes it, and returns its value.
   *
   * @param clauses the cases, at least one, none null, at most one {@link #defaultClause}
   * @param <T> the result type
   * @return the chosen clause's value
   * @throws InterruptedException if the thread is interrupted before or while waiting; no clause
   *     took effect
   * @throws ChannelClosedException if the chosen clause's channel is closed (and drained, for a
   *     receive)
   * @throws IllegalArgumentException if there are no clauses or more than one default clause
   */
  @SafeVarargs
  public static <T> T select(SelectClause<? extends T>... clauses) throws InterruptedException {
    return run(clauses, -1);
  }

  /**
   * Like {@link #select}, waiting at most {@code timeout}.
   *
   * @param timeout the longest wait; zero or negative: complete a clause that is ready now, or time
   *     out at once
   * @param clauses the cases, at least one, none null, at most one {@link #defaultClause}
   * @param <T> the result type
   * @return the chosen clause's value
   * @throws TimeoutException if no clause could complete within {@code timeout}; no clause took
   *     effect
   * @throws InterruptedException if the thread is interrupted before or while waiting; no clause
   *     took effect
   * @throws ChannelClosedException if the chosen clause's channel is closed (and drained, for a
   *     receive)
   * @throws IllegalArgumentException if there are no clauses or more than one default clause
   */
  @SafeVarargs
  public static <T> T selectWithin(Duration timeout, SelectClause<? extends T>... clauses)
      throws InterruptedException, TimeoutException {
    long nanos = Math.max(0, saturatedNanos(timeout));
    T v = run(clauses, nanos);
    if (v == Selector.TIMED_OUT) {
      throw new TimeoutException("no clause of the select completed within " + timeout);
    }
    return v;
  }

  /**
   * The default case: chosen, with this value, when no other clause of the select can complete at
   * once. Go's {@code default:}.
   *
   * @param value what the select returns then; may be null
   * @param <T> the result type
   * @return the clause
   */
  public static <T> SelectClause<T> defaultClause(T value) {
    return new DefaultClause<>(value);
  }

  @SuppressWarnings("unchecked")
  private static <T> T run(SelectClause<? extends T>[] clauses, long timeoutNanos)
      throws InterruptedException {
    Objects.requireNonNull(clauses, "clauses");
    if (clauses.length == 0) {
      throw new IllegalArgumentException("select needs at least one clause");
    }
    DefaultClause<?> dflt = null;
    for (SelectClause<?> c : clauses) {
      if (Objects.requireNonNull(c, "clause") instanceof DefaultClause<?> d) {
        if (dflt != null) {
          throw new IllegalArgumentException("select has more than one default clause");
        }
        dflt = d;
      }
    }
    return (T) Selector.select(clauses, dflt, timeoutNanos);
  }

  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }
}
