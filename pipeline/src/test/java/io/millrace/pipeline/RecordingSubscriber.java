package io.millrace.pipeline;

import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;

/**
 * A subscriber for tests that records what it is told and checks the publisher's side of the spec
 * as it goes: {@code onSubscribe} first and once (1.9), no signal while another is under way (1.3),
 * no more {@code onNext} than requested (1.1), at most one terminal signal and nothing after it
 * (1.7), no {@code onNext} begun after {@link #cancel()} returned but the one that may already have
 * been under way (1.8). Violations are collected in {@link #violations()}, which tests assert
 * empty.
 *
 * <p>{@code onNext} calls the hook given to the constructor, which may request or cancel from
 * inside.
 */
final class RecordingSubscriber<T> implements Flow.Subscriber<T> {
  final List<T> received = new CopyOnWriteArrayList<>();
  final Queue<String> violations = new ConcurrentLinkedQueue<>();
  final AtomicReference<Throwable> error = new AtomicReference<>();
  final CountDownLatch subscribed = new CountDownLatch(1);
  final CountDownLatch terminated = new CountDownLatch(1);
  final AtomicInteger completions = new AtomicInteger();
  final AtomicInteger onNextAfterCancel = new AtomicInteger();
  private final AtomicLong requested = new AtomicLong(); // saturating, like the spec's demand
  private final AtomicInteger inSignal = new AtomicInteger();
  private final AtomicInteger terminals = new AtomicInteger();
  private final BiConsumer<RecordingSubscriber<T>, T> onNextHook;
  private volatile Flow.Subscription subscription;
  private volatile boolean cancelReturned;
  private final long initialRequest;

  /**
   * @param initialRequest requested in {@code onSubscribe}, or 0 for none
   * @param onNextHook called in each {@code onNext} after the element is recorded
   */
  RecordingSubscriber(long initialRequest, BiConsumer<RecordingSubscriber<T>, T> onNextHook) {
    this.initialRequest = initialRequest;
    this.onNextHook = onNextHook;
  }

  RecordingSubscriber(long initialRequest) {
    this(initialRequest, (s, t) -> {});
  }

  private void enter(String signal) {
    if (inSignal.getAndIncrement() != 0) {
      violations.add("rule 1.3: " + signal + " while another signal was under way");
    }
    if (terminals.get() > 0) {
      violations.add("rule 1.7: " + signal + " after a terminal signal");
    }
  }

  private void leave() {
    inSignal.decrementAndGet();
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    enter("onSubscribe");
    try {
      if (subscription != null) {
        violations.add("rule 1.9: onSubscribe twice");
      }
      subscription = s;
      subscribed.countDown();
      if (initialRequest > 0) {
        request(initialRequest);
      }
    } finally {
      leave();
    }
  }

  @Override
  public void onNext(T item) {
    enter("onNext(" + item + ")");
    try {
      if (subscription == null) {
        violations.add("rule 1.9: onNext before onSubscribe");
      }
      if (cancelReturned) {
        onNextAfterCancel.incrementAndGet();
      }
      received.add(item);
      long r = requested.get();
      if (r != Long.MAX_VALUE) {
        if (r <= 0) {
          violations.add("rule 1.1: onNext(" + item + ") beyond demand");
        }
        requested.decrementAndGet();
      }
      onNextHook.accept(this, item);
    } finally {
      leave();
    }
  }

  @Override
  public void onError(Throwable t) {
    enter("onError(" + t + ")");
    try {
      error.set(t);
      terminals.incrementAndGet();
      terminated.countDown();
    } finally {
      leave();
    }
  }

  @Override
  public void onComplete() {
    enter("onComplete");
    try {
      completions.incrementAndGet();
      terminals.incrementAndGet();
      terminated.countDown();
    } finally {
      leave();
    }
  }

  /** Requests {@code n}, counting it as demand first (an element may arrive inside). */
  void request(long n) {
    if (n > 0) {
      requested.accumulateAndGet(n, (a, b) -> a + b < 0 ? Long.MAX_VALUE : a + b);
    }
    subscription.request(n);
  }

  void cancel() {
    subscription.cancel();
    cancelReturned = true;
  }

  /** Waits for {@code onSubscribe}. */
  RecordingSubscriber<T> awaitSubscribed() throws InterruptedException {
    if (!subscribed.await(5, TimeUnit.SECONDS)) {
      throw new AssertionError("no onSubscribe within 5 s");
    }
    return this;
  }

  /** Waits for the terminal signal. */
  void awaitTerminal(Duration limit) throws InterruptedException {
    if (!terminated.await(limit.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("no terminal signal within " + limit + "; received " + size());
    }
  }

  /** Waits until at least {@code n} elements arrived. */
  void awaitReceived(int n, Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (received.size() < n) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("received " + received.size() + " of " + n + " within " + limit);
      }
      Thread.sleep(1);
    }
  }

  int size() {
    return received.size();
  }

  /** {@return the rule violations seen so far, plus any terminal signal beyond the first} */
  List<String> violations() {
    List<String> all = new CopyOnWriteArrayList<>(violations);
    if (terminals.get() > 1) {
      all.add("rule 1.7: " + terminals.get() + " terminal signals");
    }
    return all;
  }
}
