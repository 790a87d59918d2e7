package io.millrace.pipeline;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A buffer of a run and the number of stages still writing into it: the runtime, not the stages,
 * closes the buffer, when the last of its producers is done.
 */
final class Outlet {
  final Channel<Object> channel;
  private final AtomicInteger producers = new AtomicInteger();

  Outlet(Channel<Object> channel) {
    this.channel = channel;
  }

  /** Counts one more stage writing here; called while the run is wired, before any stage runs. */
  void addProducer() {
    producers.incrementAndGet();
  }

  /**
   * Hands one element on at once (for a producer that may block between elements, so nothing it
   * produced waits for the next one to exist); counts it in {@code st}'s {@code out}.
   *
   * @throws NullPointerException if {@code v} is null: the stage produced null
   */
  void send(StageCounters st, Object v) throws InterruptedException {
    if (v == null) {
      throw new NullPointerException("stage '" + st.name + "' produced null");
    }
    channel.send(v);
    st.out.lazySet(st.out.get() + 1);
  }

  /** Tells the buffer one of its producers is done; the last one closes it. */
  void producerDone() {
    if (producers.decrementAndGet() == 0) {
      channel.close();
    }
  }
}
