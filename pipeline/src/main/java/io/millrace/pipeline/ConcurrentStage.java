package io.millrace.pipeline;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;

/**
 * {@code mapConcurrent(n, fn)} and {@code mapConcurrentUnordered(n, fn)}: a dispatcher (the stage's
 * thread) that takes one of {@code n} permits, then starts a thread for the call; so never more
 * than {@code n} calls are in flight, and no more threads exist than calls.
 *
 * <p>Ordered: an emitter thread hands the results on in input order, and gives a call's permit back
 * once it took that call's result, so the permits bound the calls in flight plus the results
 * waiting for those before them. Unordered: each call's thread hands its result on at once and
 * gives its permit back once it no longer counts as live.
 */
final class ConcurrentStage implements StageBody {

  /** The result slot of a call that failed (the failure itself went to the run, which stops). */
  private static final Object FAILED = new Object();

  private final RunScope scope;
  private final StageCounters st;
  private final PolicyRunner calls;
  private final int maxInFlight;
  private final boolean ordered;
  private final Channel<Object> in;
  private final Outlet out;

  ConcurrentStage(
      RunScope scope,
      StageCounters st,
      PolicyRunner calls,
      int maxInFlight,
      boolean ordered,
      Channel<Object> in,
      Outlet out) {
    this.scope = scope;
    this.st = st;
    this.calls = calls;
    this.maxInFlight = maxInFlight;
    this.ordered = ordered;
    this.in = in;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    Semaphore permits = new Semaphore(maxInFlight);
    Channel<Object> pending = null; // ordered: one future per call, in input order
    if (ordered) {
      pending = Channel.buffered(maxInFlight);
      scope.register(st, pending);
      Channel<Object> p = pending;
      scope.fork(st, () -> emitInOrder(permits, p));
    }
    Object[] chunk = Chunks.newChunk(in);
    while (true) {
      int k = Chunks.take(in, chunk, chunk.length, -1);
      if (k < 0) {
        break; // end of input
      }
      st.in.getAndAdd(k);
      for (int i = 0; i < k; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        permits.acquire();
        if (ordered) {
          startInOrder(item, pending);
        } else {
          start(item, permits);
        }
      }
    }
    if (ordered) {
      pending.close(); // the emitter ends the output
    } else {
      permits.acquire(maxInFlight); // every call has ended and handed on its result
      out.producerDone();
    }
  }

  private void startInOrder(Object item, Channel<Object> pending) throws InterruptedException {
    CompletableFuture<Object> slot = new CompletableFuture<>();
    pending.send(slot);
    Object[] result = new Object[1];
    scope.fork(
        st,
        () -> result[0] = calls.callTimed(item),
        () -> slot.complete(result[0] != null ? result[0] : FAILED));
  }

  private void emitInOrder(Semaphore permits, Channel<Object> pending) throws Exception {
    while (true) {
      Object slot;
      try {
        slot = pending.receive();
      } catch (ChannelClosedException e) {
        if (e.isFailure()) {
          return;
        }
        break;
      }
      Object r;
      try {
        r = ((CompletableFuture<?>) slot).get();
      } catch (ExecutionException e) {
        throw new AssertionError("a slot is never completed exceptionally", e);
      }
      if (r == FAILED) {
        return; // the call's own thread reported the failure
      }
      permits.release();
      if (r != PolicyRunner.DROPPED) {
        out.channel.send(r);
        st.out.getAndIncrement();
      }
    }
    out.producerDone();
  }

  private void start(Object item, Semaphore permits) {
    scope.fork(
        st,
        () -> {
          Object r = calls.callTimed(item);
          if (r != PolicyRunner.DROPPED) {
            out.channel.send(r);
            st.out.getAndIncrement();
          }
        },
        permits::release);
  }
}
