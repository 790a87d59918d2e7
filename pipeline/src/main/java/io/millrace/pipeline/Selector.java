package io.millrace.pipeline;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * One call of {@link Select#select}: the algorithm, and the state that decides which clause wins.
 *
 * <p>The design is Go's {@code selectgo} (runtime/select.go) on top of {@link Channel}'s lock:
 *
 * <ol>
 *   <li><b>Fast path.</b> Starting from a random clause and wrapping around, try each clause under
 *       its own channel's lock, without waiting: receive an element (or find the channel closed and
 *       drained), or send into free room or to a waiting receiver (or find the channel closed). The
 *       select is not registered anywhere yet, so completing a clause here is an ordinary channel
 *       operation, and the first clause that completes is the result.
 *   <li><b>Register.</b> If none completed (and there is no default clause), lock every channel of
 *       the select in one global order (by {@link SelectWaiters#id}, so two selects never
 *       deadlock), try every clause once more, and if still none can complete, queue one {@link
 *       SelectWaiters.Node} per clause in its channel's {@link SelectWaiters}, then unlock them
 *       all. Holding all the locks makes "none ready, so wait on all" atomic: no clause can become
 *       ready between the check and the registration without seeing the registration.
 *   <li><b>Win.</b> Each instance has one {@link #state}: {@code WAITING}, then exactly once either
 *       "clause i completed", "clause i's channel closed" or {@code CANCELLED} (interrupt or
 *       timeout), by compare-and-set. A counterpart that finds a node in a channel's queue (a
 *       sender, a receiver, {@code close}, or another select's fast path) holds that channel's
 *       lock; it moves the element only if its CAS wins, and otherwise drops the node and goes on.
 *       So at most one clause takes effect, and a cancelled select has taken or given nothing.
 *   <li><b>Clean up.</b> The select's thread parks until its state leaves {@code WAITING}, then
 *       removes its other nodes from their queues (each under its channel's lock), so nothing of a
 *       select outlives it.
 * </ol>
 *
 * <p>The random start makes a clause that is always ready win at least 1/n of the time whatever its
 * position; the fast path takes one lock for a ready clause, the slow path one per channel.
 */
final class Selector {
  /** What {@link Channel#receiveNow()} returns for a closed, drained channel. */
  static final Object CLOSED =
      new Object() {
        @Override
        public String toString() {
          return "CLOSED";
        }
      };

  /** What {@link #select} returns when the timeout elapsed with no clause chosen. */
  static final Object TIMED_OUT =
      new Object() {
        @Override
        public String toString() {
          return "TIMED_OUT";
        }
      };

  private static final Object SENT = new Object();
  private static final int WAITING = -1;
  private static final int CANCELLED = -2;
  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(Selector.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * Tests only: try the clauses in the order given, all under the locks at once (no fast path), so
   * the first clause ready at that moment wins.
   */
  static boolean inOrder;

  /** {@code WAITING}, {@code CANCELLED}, or {@code clause << 1 | (closed ? 1 : 0)}. */
  private volatile int state = WAITING;

  private final Thread owner = Thread.currentThread();

  private Selector() {}

  // ---- called by counterparts, with the lock of the node's channel held ----

  /** Makes {@code clause} the winner if nothing else has won yet; wakes the select. */
  boolean complete(int clause) {
    return finish(clause << 1);
  }

  /** Ends the select with {@code clause}'s channel closed, if nothing else has won yet. */
  boolean closed(int clause) {
    return finish(clause << 1 | 1);
  }

  private boolean finish(int outcome) {
    if (STATE.compareAndSet(this, WAITING, outcome)) {
      LockSupport.unpark(owner);
      return true;
    }
    return false;
  }

  // ---- the select ----

  /**
   * Runs a select over validated clauses (non-empty, no nulls, at most one default).
   *
   * @param timeoutNanos how long to wait for a clause; negative: no limit
   * @return the chosen clause's value, or {@link #TIMED_OUT}
   */
  static Object select(SelectClause<?>[] clauses, DefaultClause<?> dflt, long timeoutNanos)
      throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    int n = clauses.length;
    int start = inOrder || n == 1 ? 0 : ThreadLocalRandom.current().nextInt(n);
    if (!inOrder) {
      for (int k = 0, i = start; k < n; k++, i = i + 1 == n ? 0 : i + 1) {
        if (clauses[i] instanceof DefaultClause<?>) {
          continue;
        }
        Channel<?> ch = channel(clauses[i]);
        Object r;
        ch.lock.lock();
        try {
          r = tryNow(clauses[i]);
        } finally {
          ch.lock.unlock();
        }
        if (r != null) {
          return result(clauses[i], r);
        }
      }
      if (dflt != null) {
        return dflt.value();
      }
      if (timeoutNanos == 0) {
        return TIMED_OUT;
      }
    }
    return lockedSelect(clauses, start, dflt, timeoutNanos);
  }

  /**
   * Under every lock at once: try the clauses again, then take the default, time out or register;
   * then park and clean up. (With {@link #inOrder} this is the whole select, so that which clause
   * wins is decided at one moment.)
   */
  private static Object lockedSelect(
      SelectClause<?>[] clauses, int start, DefaultClause<?> dflt, long timeoutNanos)
      throws InterruptedException {
    int n = clauses.length;
    Channel<?>[] order = lockOrder(clauses);
    Selector s = null;
    SelectWaiters.Node[] nodes = null;
    int ready = -1;
    Object r = null;
    for (Channel<?> ch : order) {
      ch.lock.lock();
    }
    try {
      for (int k = 0, i = start; k < n; k++, i = i + 1 == n ? 0 : i + 1) {
        if ((r = tryNow(clauses[i])) != null) {
          ready = i;
          break;
        }
      }
      if (ready < 0 && dflt == null && timeoutNanos != 0) {
        s = new Selector();
        nodes = new SelectWaiters.Node[n];
        for (int i = 0; i < n; i++) {
          nodes[i] = s.register(clauses[i], i);
        }
      }
    } finally {
      for (int i = order.length - 1; i >= 0; i--) {
        order[i].lock.unlock();
      }
    }
    if (ready >= 0) {
      return result(clauses[ready], r);
    }
    if (s == null) {
      return dflt != null ? dflt.value() : TIMED_OUT;
    }
    return s.await(clauses, nodes, timeoutNanos);
  }

  private SelectWaiters.Node register(SelectClause<?> clause, int i) {
    SelectWaiters.Node node;
    if (clause instanceof SendClause<?, ?> c) {
      node = new SelectWaiters.Node(this, i, true, c.channel(), c.value());
      c.channel().waiters.add(node);
    } else {
      Channel<?> ch = ((ReceiveClause<?, ?>) clause).channel();
      node = new SelectWaiters.Node(this, i, false, ch, null);
      ch.waiters.add(node);
    }
    return node;
  }

  private Object await(SelectClause<?>[] clauses, SelectWaiters.Node[] nodes, long timeoutNanos)
      throws InterruptedException {
    long deadline = timeoutNanos > 0 ? System.nanoTime() + timeoutNanos : 0;
    boolean interrupted = false;
    int st;
    while ((st = state) == WAITING) {
      if (timeoutNanos < 0) {
        LockSupport.park(this);
      } else {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          if (cancel(nodes)) {
            return TIMED_OUT;
          }
          continue;
        }
        LockSupport.parkNanos(this, left);
      }
      if (Thread.interrupted()) {
        if (cancel(nodes)) {
          throw new InterruptedException();
        }
        interrupted = true; // a clause completed at the same moment: it stands, the flag too
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    int won = st >> 1;
    removeAll(nodes, won);
    SelectWaiters.Node node = nodes[won];
    if ((st & 1) != 0) {
      Channel<?> ch = node.channel;
      ch.lock.lock();
      try {
        throw node.sender ? ch.closedForSend() : ch.closedForReceive();
      } finally {
        ch.lock.unlock();
      }
    }
    return result(clauses[won], node.sender ? SENT : node.item);
  }

  /** Ends a select that no clause has won; {@return false if one won first} */
  private boolean cancel(SelectWaiters.Node[] nodes) {
    if (!STATE.compareAndSet(this, WAITING, CANCELLED)) {
      return false;
    }
    removeAll(nodes, -1);
    return true;
  }

  private static void removeAll(SelectWaiters.Node[] nodes, int except) {
    for (SelectWaiters.Node node : nodes) {
      if (node != null && node.clause != except) {
        Channel<?> ch = node.channel;
        ch.lock.lock();
        try {
          ch.waiters.remove(node);
        } finally {
          ch.lock.unlock();
        }
      }
    }
  }

  // ---- clauses ----

  private static Channel<?> channel(SelectClause<?> clause) {
    return switch (clause) {
      case ReceiveClause<?, ?> c -> c.channel();
      case SendClause<?, ?> c -> c.channel();
      case DefaultClause<?> c -> null;
    };
  }

  /**
   * Tries a clause without waiting, its channel's lock held.
   *
   * @return the received element, {@link #SENT}, or {@code null} if it cannot complete now
   * @throws ChannelClosedException if its channel is closed (and drained, for a receive)
   */
  private static Object tryNow(SelectClause<?> clause) {
    switch (clause) {
      case ReceiveClause<?, ?> c -> {
        Object v = c.channel().receiveNow();
        if (v == CLOSED) {
          throw c.channel().closedForReceive();
        }
        return v;
      }
      case SendClause<?, ?> c -> {
        Channel<?> ch = c.channel();
        ch.ensureOpenForSend();
        return ch.sendNow(c.value()) ? SENT : null;
      }
      case DefaultClause<?> c -> {
        return null;
      }
    }
  }

  /** The select's value for a completed clause, computed on the select's thread, no lock held. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Object result(SelectClause<?> clause, Object raw) throws InterruptedException {
    if (clause instanceof SendClause<?, ?> c) {
      return c.onSent() == null ? null : c.onSent().get();
    }
    ThrowingFunction fn = ((ReceiveClause<?, ?>) clause).fn();
    if (fn == null) {
      return raw;
    }
    try {
      return fn.apply(raw);
    } catch (RuntimeException | InterruptedException e) {
      throw e;
    } catch (Exception e) {
      throw new CompletionException(e);
    }
  }

  /** The channels of the clauses, sorted by {@link SelectWaiters#id} (repeats kept). */
  private static Channel<?>[] lockOrder(SelectClause<?>[] clauses) {
    int m = 0;
    Channel<?>[] order = new Channel<?>[clauses.length];
    for (SelectClause<?> c : clauses) {
      Channel<?> ch = channel(c);
      if (ch == null) {
        continue;
      }
      int j = m++;
      while (j > 0 && order[j - 1].waiters.id > ch.waiters.id) {
        order[j] = order[j - 1];
        j--;
      }
      order[j] = ch;
    }
    return m == order.length ? order : java.util.Arrays.copyOf(order, m);
  }
}
