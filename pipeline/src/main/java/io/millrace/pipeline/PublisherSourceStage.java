package io.millrace.pipeline;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.Flow;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The source of {@code Pipeline.from(Flow.Publisher)}: a Reactive Streams subscriber whose demand
 * follows the run's back-pressure.
 *
 * <p><b>Demand.</b> When the stage starts it subscribes (a fresh subscription per run). Let {@code
 * limit} be the capacity of the buffer the stage writes into. Once the subscription arrives the
 * stage requests {@code limit} elements; what the publisher sends waits in a queue until the
 * stage's thread hands it on into that buffer (blocking while the buffer is full); each time it has
 * handed on {@code max(1, limit / 2)} elements since its last request, it requests that many more.
 * So requested-but-not-handed-on never exceeds {@code limit}: the queue never holds more than
 * {@code limit} elements, and a slow downstream slows the publisher down. Nothing is requested
 * unbounded ({@code Long.MAX_VALUE}).
 *
 * <p><b>Threads.</b> The publisher's signals come on its own threads and only touch the queue and
 * flags under {@code lock}; the stage's thread never calls the publisher while holding it. Every
 * call on the subscription ({@code request}, {@code cancel}) is made by the stage's thread, so they
 * are serialized (rule 2.7), with two exceptions that are the only call ever made on their
 * subscription: a second {@code onSubscribe}'s subscription, and one that arrives after the stage
 * ended, are cancelled on the signalling thread (rules 2.5, 2.6).
 *
 * <p><b>Ends.</b> {@code onComplete}: the queued elements are handed on, then the stage ends
 * normally. {@code onError(t)}: the run fails at once with {@code t} as the cause (queued elements
 * are dropped, as any run's are when it fails). The run stopping (cancel, another stage's failure,
 * deadline) interrupts the stage's thread, which then cancels the subscription unless the publisher
 * already ended it (rule 2.4: after {@code onComplete}/{@code onError} it is never called again). A
 * publisher that breaks the spec fails the run, and its subscription is cancelled: more {@code
 * onNext} than requested (rule 1.1: {@link IllegalStateException}), a {@code null} signal (rule
 * 2.13: the signal throws {@link NullPointerException}, which is also the run's cause), or a {@code
 * subscribe} that throws (rule 1.9). Signals after the end are ignored (rule 2.8).
 */
final class PublisherSourceStage implements StageBody {
  private final RunScope scope;
  private final StageCounters st;
  private final Flow.Publisher<?> publisher;
  private final Outlet out;

  PublisherSourceStage(RunScope scope, StageCounters st, Flow.Publisher<?> publisher, Outlet out) {
    this.scope = scope;
    this.st = st;
    this.publisher = publisher;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    Receiver r = new Receiver(Math.max(1, out.channel.capacity()));
    try {
      publisher.subscribe(r);
      pump(r);
    } finally {
      r.close();
    }
  }

  /** Moves what the publisher sends into the buffer, and asks for more as room frees up. */
  private void pump(Receiver r) throws InterruptedException {
    Object[] chunk = Chunks.newChunk(out.channel);
    int replenish = Math.max(1, r.limit / 2);
    Flow.Subscription s = null;
    long handedOn = 0; // since the last request
    while (true) {
      int n;
      boolean done;
      Throwable failed;
      Flow.Subscription arrived = null;
      r.lock.lockInterruptibly();
      try {
        while (r.queue.isEmpty()
            && r.failure == null
            && !r.publisherDone
            && (s != null || r.subscription == null)) {
          if (scope.isStopping()) {
            return; // the publisher's request swallowed the stop's interrupt: stop all the same
          }
          r.changed.await(); // the run's stop interrupts it
        }
        failed = r.failure;
        if (s == null && r.subscription != null && failed == null && !r.publisherDone) {
          arrived = r.subscription;
          r.unfilled += r.limit; // before request: onNext may come inside it
        }
        n = 0;
        while (n < chunk.length && !r.queue.isEmpty()) {
          chunk[n++] = r.queue.poll();
        }
        done = r.publisherDone && r.queue.isEmpty();
      } finally {
        r.lock.unlock();
      }
      if (failed != null) {
        scope.fail(st, failed);
        return;
      }
      if (arrived != null) {
        s = arrived;
        s.request(r.limit);
        continue;
      }
      if (n > 0) {
        st.in.getAndAdd(n);
        out.channel.sendAll(chunk, n, st.out);
        Arrays.fill(chunk, 0, n, null);
        handedOn += n;
      }
      if (done) {
        out.producerDone();
        return;
      }
      if (handedOn >= replenish && r.reserve(handedOn)) {
        s.request(handedOn);
        handedOn = 0;
      }
    }
  }

  /** The subscriber handed to the publisher. Its state is guarded by {@code lock}. */
  static final class Receiver implements Flow.Subscriber<Object> {
    final int limit;
    final ReentrantLock lock = new ReentrantLock();
    final Condition changed = lock.newCondition();
    // guarded by lock
    Flow.Subscription subscription;
    final ArrayDeque<Object> queue;
    long unfilled; // requested, not yet received
    Throwable failure; // onError's cause, or how the publisher broke the spec
    boolean publisherDone; // onComplete or onError came: the subscription is over (rule 2.4)
    boolean closed; // the stage ended: later subscriptions are cancelled, later elements dropped

    Receiver(int limit) {
      this.limit = limit;
      this.queue = new ArrayDeque<>(Math.min(limit, 1024));
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      if (s == null) {
        throw violation(new NullPointerException("rule 2.13: onSubscribe(null)"));
      }
      boolean refuse;
      lock.lock();
      try {
        refuse = closed || subscription != null;
        if (!refuse) {
          subscription = s;
          changed.signalAll();
        }
      } finally {
        lock.unlock();
      }
      if (refuse) {
        s.cancel(); // rule 2.5 (a second subscription), 2.6 (the stage has ended)
      }
    }

    @Override
    public void onNext(Object item) {
      if (item == null) {
        throw violation(new NullPointerException("rule 2.13: onNext(null)"));
      }
      lock.lock();
      try {
        if (closed || publisherDone || failure != null) {
          return; // rule 2.8: after cancel, elements may still come
        }
        if (unfilled == 0) {
          failure =
              new IllegalStateException(
                  "rule 1.1: the publisher sent more elements than were requested");
          changed.signalAll();
          return;
        }
        unfilled--;
        queue.add(item);
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void onError(Throwable t) {
      if (t == null) {
        throw violation(new NullPointerException("rule 2.13: onError(null)"));
      }
      end(t);
    }

    @Override
    public void onComplete() {
      end(null);
    }

    private void end(Throwable t) {
      lock.lock();
      try {
        if (!publisherDone && !closed) {
          publisherDone = true;
          if (failure == null) {
            failure = t;
          }
          changed.signalAll();
        }
      } finally {
        lock.unlock();
      }
    }

    /** Records that the publisher broke the spec: the run fails with {@code e}. */
    private NullPointerException violation(NullPointerException e) {
      lock.lock();
      try {
        if (failure == null && !closed) {
          failure = e;
          changed.signalAll();
        }
      } finally {
        lock.unlock();
      }
      return e;
    }

    /**
     * Counts {@code n} more elements as requested, unless the subscription is over.
     *
     * @return whether the caller should now request them
     */
    boolean reserve(long n) {
      lock.lock();
      try {
        if (publisherDone || closed || failure != null) {
          return false;
        }
        unfilled += n;
        return true;
      } finally {
        lock.unlock();
      }
    }

    /** The stage ends: cancels the subscription unless the publisher ended it. */
    void close() {
      Flow.Subscription s;
      boolean over;
      lock.lock();
      try {
        closed = true;
        s = subscription;
        over = publisherDone;
        queue.clear();
      } finally {
        lock.unlock();
      }
      if (s != null && !over) {
        s.cancel();
      }
    }
  }
}
