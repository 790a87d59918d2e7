package io.millrace.bench.log;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Group commit in front of a store that has none of its own (the same scheme as the millrace log:
 * one writer thread takes every queued request, makes them durable with one flush, then releases
 * their callers), so that each store is compared at its best, not at one fsync per request.
 */
final class GroupCommitter implements AutoCloseable {
  /** Makes a group of requests durable. Called on the writer thread only. */
  interface Flush {
    void flush(List<List<byte[]>> requests) throws Exception;
  }

  private record Pending(List<byte[]> payloads, CompletableFuture<Void> done) {}

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private final Flush flush;
  private final Thread writer;
  private boolean closing;
  private volatile long groups;

  GroupCommitter(String name, Flush flush) {
    this.flush = flush;
    this.writer = Thread.ofPlatform().name(name).start(this::run);
  }

  void append(List<byte[]> payloads) throws Exception {
    Pending p = new Pending(payloads, new CompletableFuture<>());
    lock.lock();
    try {
      if (closing) {
        throw new IllegalStateException("closed");
      }
      queue.add(p);
      notEmpty.signal();
    } finally {
      lock.unlock();
    }
    p.done().get();
  }

  long groups() {
    return groups;
  }

  private void run() {
    List<Pending> batch = new ArrayList<>();
    List<List<byte[]>> requests = new ArrayList<>();
    while (true) {
      lock.lock();
      try {
        while (queue.isEmpty() && !closing) {
          notEmpty.awaitUninterruptibly();
        }
        if (queue.isEmpty()) {
          return;
        }
        batch.addAll(queue);
        queue.clear();
      } finally {
        lock.unlock();
      }
      for (Pending p : batch) {
        requests.add(p.payloads());
      }
      try {
        flush.flush(requests);
        groups++;
        batch.forEach(p -> p.done().complete(null));
      } catch (Exception e) {
        batch.forEach(p -> p.done().completeExceptionally(e));
      }
      batch.clear();
      requests.clear();
    }
  }

  @Override
  public void close() throws InterruptedException {
    lock.lock();
    try {
      closing = true;
      notEmpty.signal();
    } finally {
      lock.unlock();
    }
    writer.join();
  }
}
