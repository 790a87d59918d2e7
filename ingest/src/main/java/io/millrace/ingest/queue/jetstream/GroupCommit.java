package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.queue.Admission;
import io.nats.client.PublishOptions;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Group commit on the admission path: one thread publishes asynchronously with at most {@value
 * #MAX_OUTSTANDING} messages awaiting their acks; requests arriving meanwhile wait here and share
 * the next message (up to {@value #MAX_GROUP_BYTES} bytes). Under light load each request is its
 * own message at once; under heavy load many share one, which divides the broker's and the client's
 * per-message work. Each request is still all in one message.
 *
 * <p>A request is either withdrawn ({@link #withdraw}: its client is answered and it is never sent)
 * or taken into a message by the publisher, never both: both happen under one lock.
 *
 * <p>Thread-safe. Everything in {@link #publishLoop} runs on the publisher thread.
 */
final class GroupCommit {
  /** Messages in flight at once; the requests arriving meanwhile share the next one. */
  static final int MAX_OUTSTANDING = 2;

  /** A shared message is cut at this size (a larger request still goes alone). */
  static final int MAX_GROUP_BYTES = 256 * 1024;

  private final NatsLink link;
  private final Codec codec;
  private final PublishOptions options;
  private final long timeoutMs;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition work = lock.newCondition();
  private final ArrayDeque<Pending> pending = new ArrayDeque<>(); // guarded by lock
  private int outstanding; // messages published and not yet acknowledged; guarded by lock
  private Thread publisher;

  /** A request waiting to be published with others; completed with its answer. */
  static final class Pending {
    final List<byte[]> payloads;
    final int size;
    final CompletableFuture<Admission> result = new CompletableFuture<>();

    Pending(List<byte[]> payloads, int size) {
      this.payloads = payloads;
      this.size = size;
    }
  }

  GroupCommit(NatsLink link, Codec codec, PublishOptions options, long timeoutMs) {
    this.link = link;
    this.codec = codec;
    this.options = options;
    this.timeoutMs = timeoutMs;
  }

  void start() {
    publisher = Thread.ofVirtual().name("millrace-nats-publish").start(this::publishLoop);
  }

  /**
   * Queues a request for the next message.
   *
   * @param payloads the request's payloads
   * @param size their {@link Codec#bodySize}
   * @return the request, whose result completes once its message is acknowledged or has failed
   */
  Pending submit(List<byte[]> payloads, int size) {
    Pending p = new Pending(payloads, size);
    lock.lock();
    try {
      pending.addLast(p);
      work.signal();
    } finally {
      lock.unlock();
    }
    return p;
  }

  /**
   * Withdraws a request that has not been taken into a message yet.
   *
   * @return true if withdrawn: it will never be published; false if it is in a message already
   */
  boolean withdraw(Pending p) {
    lock.lock();
    try {
      return pending.removeFirstOccurrence(p); // Pending has identity equality
    } finally {
      lock.unlock();
    }
  }

  private void publishLoop() {
    List<Pending> group = new ArrayList<>();
    while (true) {
      group.clear();
      int size = 0;
      int count = 0;
      LinkState s;
      lock.lock();
      try {
        while (pending.isEmpty() || outstanding >= MAX_OUTSTANDING) {
          if (closed.get() && pending.isEmpty()) {
            return;
          }
          work.await(100, TimeUnit.MILLISECONDS);
        }
        s = link.state(); // a request is queued only while the state is usable
        long limit = Math.min(MAX_GROUP_BYTES, s.connection().getMaxPayload() - 512);
        while (!pending.isEmpty()) {
          Pending p = pending.peekFirst();
          int add = p.size + (count > 0 ? 1 : 0);
          if (!group.isEmpty() && size + add > limit) {
            break;
          }
          group.add(pending.pollFirst());
          size += add;
          count += p.payloads.size();
        }
        outstanding++;
      } catch (InterruptedException e) {
        failAll(new IllegalStateException("the queue is closing"));
        return;
      } finally {
        lock.unlock();
      }
      publish(s, List.copyOf(group), size, count);
    }
  }

  private void publish(LinkState s, List<Pending> members, int size, int count) {
    try {
      List<List<byte[]>> requests = new ArrayList<>(members.size());
      for (Pending p : members) {
        requests.add(p.payloads);
      }
      s.js()
          .publishAsync(codec.encode(requests, size, count), options)
          // an ack that never comes (broker gone mid-publish) must not hold a slot for ever
          .orTimeout(timeoutMs, TimeUnit.MILLISECONDS)
          .whenComplete(
              (ack, error) -> {
                published();
                for (Pending p : members) {
                  if (error == null) {
                    p.result.complete(new Admission.Admitted(p.payloads.size()));
                  } else {
                    p.result.completeExceptionally(error);
                  }
                }
              });
    } catch (RuntimeException e) {
      published();
      for (Pending p : members) {
        p.result.completeExceptionally(e);
      }
    }
  }

  private void published() {
    lock.lock();
    try {
      outstanding--;
      work.signal();
    } finally {
      lock.unlock();
    }
  }

  private void failAll(Throwable cause) {
    lock.lock();
    try {
      for (Pending p : pending) {
        p.result.completeExceptionally(cause);
      }
      pending.clear();
    } finally {
      lock.unlock();
    }
  }

  /** {@return whether the publisher thread has ended (or never started)} */
  boolean stopped() {
    Thread t = publisher;
    return t == null || !t.isAlive();
  }

  /**
   * Lets the publisher send what is queued and end, waits for it (2 s, then interrupts it) and
   * fails whatever is still queued. Keeps waiting after an interrupt, then sets the flag again.
   */
  void close() {
    closed.set(true);
    boolean interrupted = false;
    Thread t = publisher;
    if (t != null) {
      try {
        t.join(Duration.ofSeconds(2)); // ends once nothing is pending
      } catch (InterruptedException e) {
        interrupted = true;
      }
      t.interrupt();
      try {
        t.join(Duration.ofSeconds(2));
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    failAll(new IllegalStateException("the queue closed"));
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
