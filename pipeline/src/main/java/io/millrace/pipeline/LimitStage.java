package io.millrace.pipeline;

/**
 * {@code take(n)}, {@code takeWhile(p)} and {@code drop(n)}: one thread, chunk in, chunk out, in
 * order. {@code take} and {@code takeWhile}, once they have what they need, {@link Region#cut cut}
 * the region upstream of them (every stage between them and the source, the source included) and
 * end their output normally, so the run goes on downstream and ends as a success.
 */
final class LimitStage implements StageBody {
  private final StageCounters st;
  private final long take; // -1: not a take
  private final ThrowingPredicate<Object> takeWhile; // null: not a takeWhile
  private final long drop;
  private final Region upstream; // cut when done; null for drop
  private final Channel<Object> in;
  private final Outlet out;

  private LimitStage(
      StageCounters st,
      long take,
      ThrowingPredicate<Object> takeWhile,
      long drop,
      Region upstream,
      Channel<Object> in,
      Outlet out) {
    this.st = st;
    this.take = take;
    this.takeWhile = takeWhile;
    this.drop = drop;
    this.upstream = upstream;
    this.in = in;
    this.out = out;
  }

  static LimitStage take(
      StageCounters st, long n, Region upstream, Channel<Object> in, Outlet out) {
    return new LimitStage(st, n, null, 0, upstream, in, out);
  }

  static LimitStage takeWhile(
      StageCounters st,
      ThrowingPredicate<Object> p,
      Region upstream,
      Channel<Object> in,
      Outlet out) {
    return new LimitStage(st, -1, p, 0, upstream, in, out);
  }

  static LimitStage drop(StageCounters st, long n, Channel<Object> in, Outlet out) {
    return new LimitStage(st, -1, null, n, null, in, out);
  }

  @Override
  public void run() throws Exception {
    Outbox box = new Outbox(st, out);
    long left = take; // elements still to pass on (take)
    long toDrop = drop;
    if (left == 0) {
      upstream.cut();
      box.end();
      return;
    }
    Object[] chunk = Chunks.newChunk(in);
    boolean done = false;
    while (!done) {
      int n = Chunks.take(in, chunk, chunk.length, -1);
      if (n < 0) {
        break; // end of input
      }
      st.in.getAndAdd(n);
      box.mark(System.nanoTime());
      for (int i = 0; i < n; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        if (done) {
          continue; // clear the rest of the chunk
        }
        if (toDrop > 0) {
          toDrop--;
          continue;
        }
        if (takeWhile != null && !takeWhile.test(item)) {
          done = true;
          continue;
        }
        box.add(item);
        if (left > 0 && --left == 0) {
          done = true;
        }
      }
      box.flush();
    }
    if (done) {
      upstream.cut(); // before the output ends, so nothing upstream works on once the run is over
    }
    box.end();
  }
}
