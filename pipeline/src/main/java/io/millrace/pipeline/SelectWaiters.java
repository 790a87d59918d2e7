package io.millrace.pipeline;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The selects waiting on one {@link Channel}: a queue of send registrations and a queue of receive
 * registrations, oldest first. Every method is called with the channel's lock held; a registration
 * is completed by whichever thread wins its {@link Selector}'s state, and removed from the queue
 * either by that thread or by the select's own clean-up.
 */
final class SelectWaiters {
  private static final AtomicLong IDS = new AtomicLong();

  /** Where this channel comes in the global lock order of {@link Selector}. */
  final long id = IDS.getAndIncrement();

  // guarded by the channel's lock
  private Node senders;
  private Node sendersTail;
  private Node receivers;
  private Node receiversTail;

  /** One clause of one waiting select, queued in its channel. */
  static final class Node {
    final Selector selector;
    final int clause;
    final boolean sender;
    final Channel<?> channel;

    /** A sender's element; for a receiver, the element handed to it (published by the CAS). */
    Object item;

    // guarded by the channel's lock
    private Node prev;
    private Node next;
    private boolean linked;

    Node(Selector selector, int clause, boolean sender, Channel<?> channel, Object item) {
      this.selector = selector;
      this.clause = clause;
      this.sender = sender;
      this.channel = channel;
      this.item = item;
    }
  }

  boolean hasSenders() {
    return senders != null;
  }

  boolean hasReceivers() {
    return receivers != null;
  }

  boolean isEmpty() {
    return senders == null && receivers == null;
  }

  /** {@return how many registrations are queued} For tests. */
  int size() {
    int n = 0;
    for (Node x = senders; x != null; x = x.next) {
      n++;
    }
    for (Node x = receivers; x != null; x = x.next) {
      n++;
    }
    return n;
  }

  void add(Node n) {
    n.linked = true;
    Node tail = n.sender ? sendersTail : receiversTail;
    n.prev = tail;
    if (tail != null) {
      tail.next = n;
    } else if (n.sender) {
      senders = n;
    } else {
      receivers = n;
    }
    if (n.sender) {
      sendersTail = n;
    } else {
      receiversTail = n;
    }
  }

  /** Removes {@code n} if it is still queued. */
  void remove(Node n) {
    if (!n.linked) {
      return;
    }
    n.linked = false;
    if (n.prev != null) {
      n.prev.next = n.next;
    } else if (n.sender) {
      senders = n.next;
    } else {
      receivers = n.next;
    }
    if (n.next != null) {
      n.next.prev = n.prev;
    } else if (n.sender) {
      sendersTail = n.prev;
    } else {
      receiversTail = n.prev;
    }
    n.prev = null;
    n.next = null;
  }

  /**
   * Hands {@code value} to the oldest waiting select receiver that can still choose this clause;
   * registrations of selects that have already ended are dropped on the way.
   *
   * @return whether a receiver took it
   */
  boolean handToReceiver(Object value) {
    for (Node n; (n = receivers) != null; ) {
      remove(n);
      n.item = value; // before the CAS, which publishes it to the select's thread
      if (n.selector.complete(n.clause)) {
        return true;
      }
      n.item = null;
    }
    return false;
  }

  /**
   * Takes the element of the oldest waiting select sender that can still choose this clause.
   *
   * @return the element, or {@code null} if no such sender waits
   */
  Object takeFromSender() {
    for (Node n; (n = senders) != null; ) {
      remove(n);
      Object v = n.item;
      if (n.selector.complete(n.clause)) {
        return v;
      }
    }
    return null;
  }

  /** The channel was closed or failed: every waiting select ends with that clause's exception. */
  void closeAll() {
    for (Node n; (n = senders) != null; ) {
      remove(n);
      n.selector.closed(n.clause);
    }
    for (Node n; (n = receivers) != null; ) {
      remove(n);
      n.selector.closed(n.clause);
    }
  }
}
