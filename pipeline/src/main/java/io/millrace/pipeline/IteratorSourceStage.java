package io.millrace.pipeline;

import java.util.Iterator;
import java.util.function.Supplier;

/**
 * A source over an iterator: {@code from(Iterable)}, {@code from(Iterator)}, {@code from(Stream)}.
 *
 * <p>Iterating a collection never blocks, so its elements go out in chunks; any other iterator may
 * block between elements, so each element is handed on at once: nothing produced waits for the next
 * element to exist. (A stream may be backed by anything, so it counts as "may block".)
 */
final class IteratorSourceStage implements StageBody {
  private final StageCounters st;
  private final Supplier<? extends Iterator<?>> iterator;
  private final AutoCloseable onEnd;
  private final boolean neverBlocks;
  private final Outlet out;

  /**
   * Creates the body.
   *
   * @param iterator gives the iterator, on the stage's thread when it starts
   * @param onEnd closed when the stage ends, however it ends, or {@code null}
   * @param neverBlocks whether the iterator never blocks (it iterates a collection)
   */
  IteratorSourceStage(
      StageCounters st,
      Supplier<? extends Iterator<?>> iterator,
      AutoCloseable onEnd,
      boolean neverBlocks,
      Outlet out) {
    this.st = st;
    this.iterator = iterator;
    this.onEnd = onEnd;
    this.neverBlocks = neverBlocks;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    try {
      Iterator<?> it = iterator.get();
      if (neverBlocks) {
        chunked(it);
      } else {
        while (it.hasNext()) {
          Object v = it.next();
          st.in.lazySet(st.in.get() + 1);
          out.send(st, v);
        }
        out.producerDone();
      }
    } finally {
      if (onEnd != null) {
        onEnd.close();
      }
    }
  }

  private void chunked(Iterator<?> it) throws InterruptedException {
    Outbox box = new Outbox(st, out);
    box.mark(System.nanoTime());
    long taken = 0;
    while (it.hasNext()) {
      Object v = it.next();
      if ((++taken & 63) == 0) {
        st.in.lazySet(taken);
      }
      box.add(v);
    }
    st.in.lazySet(taken);
    box.end();
  }
}
