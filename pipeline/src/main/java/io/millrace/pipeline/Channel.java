package io.millrace.pipeline;

import java.time.Duration;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A bounded, multi-producer multi-consumer channel, like Go's {@code chan T}, made safe.
 *
 * <p>Get one from {@link #buffered(int)} (holds up to {@code capacity} elements) or {@link
 * #rendezvous()} (holds none: a {@link #send} completes only when a receiver has taken the
 * element). Differences from Go, each removing a trap:
 *
 * <ul>
 *   <li>Receiving from a closed channel never yields zero values: once the channel is closed and
 *       drained, {@link #receive()} throws {@link ChannelClosedException} and iteration ends.
 *   <li>Sending to a closed channel throws {@link ChannelClosedException} instead of panicking;
 *       {@link #close()} is idempotent.
 *   <li>A producer can end the channel with an error, {@link #fail(Throwable)}, which every
 *       receiver sees as the cause of the {@link ChannelClosedException}.
 * </ul>
 *
 * <p><b>Blocking and interrupts.</b> {@link #send}, {@link #receive} and {@link #poll(Duration)}
 * block the calling thread (cheaply on a virtual thread: the implementation uses a {@link
 * ReentrantLock}, never an intrinsic monitor) and throw {@link InterruptedException} if the thread
 * is interrupted while waiting; an interrupted send has not delivered its element. Iteration cannot
 * throw a checked exception: if the iterating thread is interrupted while waiting, the interrupt
 * flag is set again and a {@link CancellationException} is thrown.
 *
 * <p><b>Memory visibility.</b> Actions before a successful {@code send} of an element happen-before
 * the actions after the {@code receive} that returns it.
 *
 * <p>Elements must not be {@code null}.
 *
 * @param <T> the element type
 */
public final class Channel<T> implements Iterable<T> {
  /*
   * Implementation: a ring buffer guarded by one ReentrantLock with two conditions, like
   * ArrayBlockingQueue. A rendezvous channel uses a one-slot buffer plus sequence numbers: a
   * sender that finds no receiver waiting parks its element in the slot and waits until a receiver
   * has taken it (takeSeq has reached its putSeq); if it is interrupted or the channel closes
   * first, it takes the element back, so "send returned" always means "a receiver got it". A
   * receiver of an empty rendezvous channel waits as a select of one receive clause, so a sender
   * (or a select) hands its element straight to it, both at once under the lock.
   *
   * The package-private bulk operations (drainTo, sendAll) move many elements per lock
   * acquisition; the pipeline runtime uses them to hand elements between stages in chunks.
   *
   * Select: threads waiting in Select.select are not on the conditions but in `waiters`, two
   * queues of registrations (see Selector for the algorithm). Every sender hands its element to
   * a waiting select receiver before using the buffer; a receiver of an empty channel takes from
   * a waiting select sender; a dequeue from a buffered channel admits waiting select senders into
   * the freed room; close and fail end every registration.
   */

  private final int capacity;
  private final Object[] items;
  final ReentrantLock lock = new ReentrantLock(); // Selector locks it too
  final SelectWaiters waiters = new SelectWaiters(); // guarded by lock
  private final Condition notEmpty = lock.newCondition();
  private final Condition notFull = lock.newCondition();
  private final Condition taken; // rendezvous only
  private final SelectClause<?>[] receiveOne; // rendezvous only: how a receiver waits

  // all guarded by lock
  private int head;
  private int count;
  private boolean closed;
  private Throwable failure;
  private long putSeq;
  private long takeSeq;

  private Channel(int capacity) {
    this.capacity = capacity;
    this.items = new Object[Math.max(1, capacity)];
    this.taken = capacity == 0 ? lock.newCondition() : null;
    this.receiveOne = capacity == 0 ? new SelectClause<?>[] {receiveClause()} : null;
  }

  /**
   * Creates a channel that buffers up to {@code capacity} elements; {@link #send} blocks while it
   * is full.
   *
   * @param capacity the number of elements the channel holds, at least 1
   * @param <T> the element type
   * @return a new open channel
   * @throws IllegalArgumentException if {@code capacity < 1}
   */
  public static <T> Channel<T> buffered(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException(
          "capacity must be >= 1 (use Channel.rendezvous() for 0), was " + capacity);
    }
    return new Channel<>(capacity);
  }

  /**
   * Creates a channel without a buffer: each {@link #send} waits until a receiver takes the
   * element, like Go's unbuffered channel.
   *
   * @param <T> the element type
   * @return a new open channel
   */
  public static <T> Channel<T> rendezvous() {
    return new Channel<>(0);
  }

  /** {@return the number of elements this channel can buffer; 0 for a rendezvous channel} */
  public int capacity() {
    return capacity;
  }

  /**
   * Sends an element, waiting while the channel is full (for a rendezvous channel: until a receiver
   * takes it).
   *
   * @param value the element, not null
   * @throws InterruptedException if interrupted while waiting; the element was not sent
   * @throws ChannelClosedException if the channel is closed or failed, before or while waiting
   */
  public void send(T value) throws InterruptedException {
    Objects.requireNonNull(value, "value");
    lock.lockInterruptibly();
    try {
      while (true) {
        ensureOpenForSend();
        if (waiters.handToReceiver(value)) {
          return;
        }
        if (count < items.length) {
          break;
        }
        notFull.await();
      }
      enqueue(value);
      if (capacity == 0) {
        awaitTaken();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Sends an element if that can be done without waiting.
   *
   * @param value the element, not null
   * @return {@code true} if sent; {@code false} if the channel is full (a rendezvous channel
   *     accepts only when a receiver is already waiting, and then hands the element straight to it)
   * @throws ChannelClosedException if the channel is closed or failed
   */
  public boolean trySend(T value) {
    Objects.requireNonNull(value, "value");
    lock.lock();
    try {
      ensureOpenForSend();
      return sendNow(value);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Receives an element, waiting while the channel is empty.
   *
   * @return the next element
   * @throws InterruptedException if interrupted while waiting
   * @throws ChannelClosedException if the channel is closed and drained, or failed (with the
   *     failure as cause)
   */
  @SuppressWarnings("unchecked")
  public T receive() throws InterruptedException {
    if (capacity == 0) {
      return (T) Selector.select(receiveOne, null, -1);
    }
    lock.lockInterruptibly();
    try {
      Object v;
      while ((v = receiveNow()) == null) {
        notEmpty.await();
      }
      return received(v);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Receives an element if one is available now.
   *
   * @return the next element, or {@code null} if the channel is empty but open
   * @throws ChannelClosedException if the channel is closed and drained, or failed
   */
  public T poll() {
    lock.lock();
    try {
      Object v = receiveNow();
      return v == null ? null : received(v);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Receives an element, waiting at most {@code timeout} for one.
   *
   * @param timeout the longest wait
   * @return the next element, or {@code null} if none arrived in time
   * @throws InterruptedException if interrupted while waiting
   * @throws ChannelClosedException if the channel is closed and drained, or failed
   */
  @SuppressWarnings("unchecked")
  public T poll(Duration timeout) throws InterruptedException {
    long nanos = timeout.toNanos();
    if (capacity == 0) {
      Object v = Selector.select(receiveOne, null, Math.max(0, nanos));
      return v == Selector.TIMED_OUT ? null : (T) v;
    }
    lock.lockInterruptibly();
    try {
      Object v;
      while ((v = receiveNow()) == null) {
        if (nanos <= 0) {
          return null;
        }
        nanos = notEmpty.awaitNanos(nanos);
      }
      return received(v);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Closes the channel: no more sends are accepted; receivers take what is buffered, then see the
   * end (iteration stops, {@link #receive()} throws). Idempotent; has no effect on a failed
   * channel. A sender blocked on a full buffered channel gets {@link ChannelClosedException}. A
   * rendezvous sender whose element is waiting in the hand-over slot takes it back and gets {@link
   * ChannelClosedException} when it wakes, unless a receiver took the element first (then its send
   * succeeds); so right after {@code close()} a receiver may still get that one element.
   */
  public void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      wakeAll(); // a rendezvous sender whose element is still in the slot withdraws it
      // unless a receiver takes it first
    } finally {
      lock.unlock();
    }
  }

  /**
   * Ends the channel with an error: buffered elements are dropped, every blocked and later {@code
   * send} and {@code receive} throws {@link ChannelClosedException} with {@code cause}. Has no
   * effect if the channel is already failed; fails a closed channel that still holds elements.
   *
   * @param cause the failure, not null
   */
  public void fail(Throwable cause) {
    Objects.requireNonNull(cause, "cause");
    lock.lock();
    try {
      if (failure != null) {
        return;
      }
      closed = true;
      failure = cause;
      clearBuffer();
      wakeAll();
    } finally {
      lock.unlock();
    }
  }

  /** {@return whether {@link #close()} or {@link #fail(Throwable)} was called} */
  public boolean isClosed() {
    lock.lock();
    try {
      return closed;
    } finally {
      lock.unlock();
    }
  }

  /**
   * {@return the number of elements buffered right now (a snapshot); for a rendezvous channel, 1
   * while a sender's element waits in the hand-over slot, even if that sender then withdraws it}
   */
  public int size() {
    lock.lock();
    try {
      return count;
    } finally {
      lock.unlock();
    }
  }

  /**
   * {@return a {@link Select#select select} clause that receives an element from this channel} The
   * select returns the element; if the channel is closed and drained (or failed) when the clause is
   * chosen, the select throws {@link ChannelClosedException}, like {@link #receive()}.
   */
  public SelectClause<T> receiveClause() {
    return new ReceiveClause<>(this, null);
  }

  /**
   * {@return a {@link Select#select select} clause that receives an element from this channel and
   * makes the select return {@code fn}'s result for it} {@code fn} runs on the selecting thread
   * after the element was received; see {@link Select} for what happens if it throws.
   *
   * @param fn maps the element to the select's value (may return null)
   * @param <U> the select's value type
   */
  public <U> SelectClause<U> receiveClause(ThrowingFunction<? super T, ? extends U> fn) {
    return new ReceiveClause<>(this, Objects.requireNonNull(fn, "fn"));
  }

  /**
   * {@return a {@link Select#select select} clause that sends {@code value} to this channel} The
   * select returns {@code null} (which fits any result type, hence {@code <U>}); if the channel is
   * closed when the clause is chosen, the select throws {@link ChannelClosedException}, like {@link
   * #send}. To a rendezvous channel the clause completes when a receiver has taken the element.
   *
   * @param value the element, not null
   * @param <U> the select's value type
   */
  public <U> SelectClause<U> sendClause(T value) {
    return new SendClause<>(this, value, null);
  }

  /**
   * {@return like {@link #sendClause(Object)}, but the select returns {@code onSent}'s value} It is
   * called on the selecting thread after the element was sent.
   *
   * @param value the element, not null
   * @param onSent gives the select's value
   * @param <U> the select's value type
   */
  public <U> SelectClause<U> sendClause(T value, Supplier<? extends U> onSent) {
    return new SendClause<>(this, value, Objects.requireNonNull(onSent, "onSent"));
  }

  /**
   * Returns an iterator that receives elements until the channel is closed and drained. {@code
   * hasNext()} blocks. A failed channel makes {@code hasNext()} throw {@link
   * ChannelClosedException}; an interrupt while waiting re-sets the flag and throws {@link
   * CancellationException}.
   */
  @Override
  public Iterator<T> iterator() {
    return new Iterator<>() {
      private T next;

      @Override
      public boolean hasNext() {
        if (next != null) {
          return true;
        }
        try {
          next = receive();
          return true;
        } catch (ChannelClosedException e) {
          if (e.isFailure()) {
            throw e;
          }
          return false;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          CancellationException ce =
              new CancellationException("interrupted while waiting on a channel");
          ce.initCause(e);
          throw ce;
        }
      }

      @Override
      public T next() {
        if (!hasNext()) {
          throw new NoSuchElementException("channel closed");
        }
        T v = next;
        next = null;
        return v;
      }
    };
  }

  @Override
  public String toString() {
    lock.lock();
    try {
      String state = failure != null ? "failed" : closed ? "closed" : "open";
      return "Channel[" + state + ", " + count + "/" + capacity + "]";
    } finally {
      lock.unlock();
    }
  }

  // ---- bulk operations for the pipeline runtime (package-private) ----

  /**
   * Moves up to {@code max} elements into {@code dst}, waiting up to {@code timeoutNanos} for the
   * first one ({@code < 0}: wait forever).
   *
   * @return how many were moved; 0 only if the wait timed out
   * @throws ChannelClosedException when closed and drained, or failed
   */
  int drainTo(Object[] dst, int max, long timeoutNanos) throws InterruptedException {
    if (capacity == 0) {
      Object v = Selector.select(receiveOne, null, Math.max(-1, timeoutNanos));
      if (v == Selector.TIMED_OUT) {
        return 0;
      }
      dst[0] = v;
      return 1;
    }
    lock.lockInterruptibly();
    try {
      long nanos = timeoutNanos;
      while (count == 0) {
        if (closed) {
          throw closedForReceive();
        }
        if (timeoutNanos < 0) {
          notEmpty.await();
        } else {
          if (nanos <= 0) {
            return 0;
          }
          nanos = notEmpty.awaitNanos(nanos);
        }
      }
      int n = Math.min(max, count);
      Object[] items = this.items;
      int h = head;
      for (int i = 0; i < n; i++) {
        dst[i] = items[h];
        items[h] = null;
        if (++h == items.length) {
          h = 0;
        }
      }
      head = h;
      count -= n;
      admitSelectSenders();
      if (n == 1) {
        notFull.signal();
      } else {
        notFull.signalAll();
      }
      if (count > 0) {
        notEmpty.signal(); // let another receiver take the rest
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Sends {@code src[0..n)} in order, waiting for room as often as needed. Only for buffered
   * channels. On an exception, some prefix may have been sent.
   */
  void sendAll(Object[] src, int n) throws InterruptedException {
    sendAll(src, n, null);
  }

  /**
   * As {@link #sendAll(Object[], int)}, and adds to {@code sentCount} (if not null) how many were
   * sent, also when an exception ends it after a prefix: a stage's {@code out} counter stays exact
   * when the run stops in the middle of a chunk.
   */
  void sendAll(Object[] src, int n, AtomicLong sentCount) throws InterruptedException {
    int sent = 0;
    lock.lockInterruptibly();
    try {
      while (sent < n) {
        ensureOpenForSend();
        if (waiters.handToReceiver(src[sent])) {
          sent++;
          continue;
        }
        int room = items.length - count;
        if (room == 0) {
          notFull.await();
          continue;
        }
        int k = Math.min(room, n - sent);
        Object[] items = this.items;
        int tail = head + count;
        if (tail >= items.length) {
          tail -= items.length;
        }
        for (int i = 0; i < k; i++) {
          items[tail] = src[sent + i];
          if (++tail == items.length) {
            tail = 0;
          }
        }
        count += k;
        sent += k;
        if (k == 1) {
          notEmpty.signal();
        } else {
          notEmpty.signalAll();
        }
      }
    } finally {
      lock.unlock();
      if (sentCount != null && sent > 0) {
        sentCount.getAndAdd(sent);
      }
    }
  }

  // ---- internals, all called with the lock held ----

  void ensureOpenForSend() {
    if (closed) {
      throw closedForSend();
    }
  }

  ChannelClosedException closedForSend() {
    return new ChannelClosedException(
        failure != null ? "channel failed" : "channel closed", failure);
  }

  ChannelClosedException closedForReceive() {
    return new ChannelClosedException(
        failure != null ? "channel failed" : "channel closed and drained", failure);
  }

  private void enqueue(Object value) {
    int tail = head + count;
    if (tail >= items.length) {
      tail -= items.length;
    }
    items[tail] = value;
    count++;
    notEmpty.signal();
  }

  @SuppressWarnings("unchecked")
  private T dequeue() {
    Object v = items[head];
    items[head] = null;
    if (++head == items.length) {
      head = 0;
    }
    count--;
    if (capacity == 0) {
      takeSeq++;
      taken.signalAll();
    } else {
      admitSelectSenders();
    }
    notFull.signal();
    return (T) v;
  }

  /**
   * Receives without waiting: the next element, {@link Selector#CLOSED} if closed and drained, or
   * {@code null} if none is available now.
   */
  Object receiveNow() {
    if (count > 0) {
      return dequeue();
    }
    Object v = waiters.takeFromSender();
    return v != null ? v : closed ? Selector.CLOSED : null;
  }

  /** {@link #receiveNow()}'s result as an element, or the exception for {@link Selector#CLOSED}. */
  @SuppressWarnings("unchecked")
  private T received(Object v) {
    if (v == Selector.CLOSED) {
      throw closedForReceive();
    }
    return (T) v;
  }

  /**
   * Sends without waiting, on an open channel: to a waiting receiver, or into free room (never into
   * a rendezvous channel's slot). {@return whether sent}
   */
  boolean sendNow(Object value) {
    if (waiters.handToReceiver(value)) {
      return true;
    }
    if (capacity == 0 || count == items.length) {
      return false;
    }
    enqueue(value);
    return true;
  }

  /** Buffered: moves the elements of waiting select senders into free room, oldest first. */
  private void admitSelectSenders() {
    while (capacity > 0 && count < items.length && waiters.hasSenders()) {
      Object v = waiters.takeFromSender();
      if (v == null) {
        return;
      }
      enqueue(v);
    }
  }

  /** Rendezvous: waits until the element just enqueued has been taken; withdraws it if not. */
  private void awaitTaken() throws InterruptedException {
    long mine = ++putSeq;
    try {
      while (takeSeq < mine) {
        if (closed) {
          // closed before any receiver took it: the element was never received; take it back
          clearBuffer();
          putSeq--;
          throw new ChannelClosedException(
              failure != null ? "channel failed" : "channel closed", failure);
        }
        taken.await();
      }
    } catch (InterruptedException e) {
      if (takeSeq >= mine) {
        Thread.currentThread().interrupt(); // delivered after all: keep the interrupt, succeed
        return;
      }
      // still in the slot (only one sender can own it): take it back
      clearBuffer();
      putSeq--;
      notFull.signal();
      throw e;
    }
  }

  private void clearBuffer() {
    java.util.Arrays.fill(items, null);
    head = 0;
    count = 0;
  }

  private void wakeAll() {
    waiters.closeAll();
    notEmpty.signalAll();
    notFull.signalAll();
    if (taken != null) {
      taken.signalAll();
    }
  }

  /** Test hook: waits until a receiver is blocked on this channel. */
  boolean hasWaitingReceivers() {
    lock.lock();
    try {
      return lock.hasWaiters(notEmpty) || waiters.hasReceivers();
    } finally {
      lock.unlock();
    }
  }
}
