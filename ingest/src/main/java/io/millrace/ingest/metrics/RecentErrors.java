package io.millrace.ingest.metrics;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The last few error events (failed uploads, refused admissions, dead letters), newest first, for
 * the status page. An event repeating the kind and message of one still held is folded into it: its
 * count grows and it moves to the front, so a flood of one error keeps the others visible. At most
 * {@code capacity} distinct events are held; the oldest is dropped first.
 *
 * <p>What is recorded is the service's own text (an exception's message, a problem's title), never
 * payload content; messages are cut to {@value #MAX_MESSAGE} characters.
 *
 * <p>Thread-safe: one {@link ReentrantLock}; {@link #record} never blocks on anything else, so it
 * may be called from upload and request threads.
 */
public final class RecentErrors {
  /** The longest message kept, in characters. */
  public static final int MAX_MESSAGE = 300;

  /**
   * One error event, as the status page shows it.
   *
   * @param kind what failed: {@code store}, {@code admission}, {@code rejected}, {@code
   *     dead-letter}, {@code workers}
   * @param message what happened, without payload content
   * @param firstAtMillis when it first happened (epoch milliseconds) since it was last dropped
   * @param lastAtMillis when it happened last
   * @param count how often it happened in between
   */
  public record Event(
      String kind, String message, long firstAtMillis, long lastAtMillis, long count) {}

  private final int capacity;
  private final LongSupplier clock;
  private final ReentrantLock lock = new ReentrantLock();
  private final ArrayDeque<Event> events = new ArrayDeque<>(); // newest first; guarded by lock
  private long total; // guarded by lock

  /**
   * @param capacity distinct events held, at least 1
   * @param clock epoch milliseconds
   */
  public RecentErrors(int capacity, LongSupplier clock) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1: " + capacity);
    }
    this.capacity = capacity;
    this.clock = clock;
  }

  /**
   * Records one event now.
   *
   * @param kind what failed (a short word)
   * @param message what happened; never payload content
   */
  public void record(String kind, String message) {
    String m = message == null ? "" : message.strip();
    if (m.length() > MAX_MESSAGE) {
      m = m.substring(0, MAX_MESSAGE - 1) + "…";
    }
    long now = clock.getAsLong();
    lock.lock();
    try {
      total++;
      Event folded = null;
      for (Iterator<Event> it = events.iterator(); it.hasNext(); ) {
        Event e = it.next();
        if (e.kind().equals(kind) && e.message().equals(m)) {
          it.remove();
          folded = new Event(kind, m, e.firstAtMillis(), now, e.count() + 1);
          break;
        }
      }
      if (folded == null) {
        folded = new Event(kind, m, now, now, 1);
        if (events.size() == capacity) {
          events.removeLast();
        }
      }
      events.addFirst(folded);
    } finally {
      lock.unlock();
    }
  }

  /** {@return the events held, newest first} */
  public List<Event> snapshot() {
    lock.lock();
    try {
      return new ArrayList<>(events);
    } finally {
      lock.unlock();
    }
  }

  /** {@return how many events were recorded in all, folded or dropped ones included} */
  public long total() {
    lock.lock();
    try {
      return total;
    } finally {
      lock.unlock();
    }
  }
}
