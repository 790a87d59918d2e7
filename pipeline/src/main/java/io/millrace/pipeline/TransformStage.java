package io.millrace.pipeline;

/** {@code map}, {@code filter} and {@code flatMap}: one thread, chunk in, chunk out, in order. */
final class TransformStage implements StageBody {
  private final StageCounters st;
  private final PolicyRunner calls;
  private final boolean flat;
  private final Channel<Object> in;
  private final Outlet out;

  /**
   * Creates the body.
   *
   * @param calls calls the stage's function: a result, or {@link PolicyRunner#DROPPED} for none
   * @param flat whether each result is an {@link Iterable} of elements to emit ({@code flatMap})
   */
  TransformStage(
      StageCounters st, PolicyRunner calls, boolean flat, Channel<Object> in, Outlet out) {
    this.st = st;
    this.calls = calls;
    this.flat = flat;
    this.in = in;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    StageCounters st = this.st;
    PolicyRunner calls = this.calls;
    boolean flat = this.flat;
    Channel<Object> in = this.in;
    Object[] chunk = Chunks.newChunk(in);
    Outbox box = new Outbox(st, out);
    while (true) {
      int n = Chunks.take(in, chunk, chunk.length, -1);
      if (n < 0) {
        break; // end of input
      }
      st.in.getAndAdd(n);
      st.inFlight.lazySet(1);
      long t0 = System.nanoTime();
      box.mark(t0);
      for (int i = 0; i < n; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        Object r = calls.call(item);
        if (r == PolicyRunner.DROPPED) {
          continue;
        }
        if (flat) {
          for (Object o : (Iterable<?>) r) {
            box.add(o);
          }
        } else {
          box.add(r);
        }
      }
      st.busyNanos.getAndAdd(System.nanoTime() - t0);
      st.inFlight.lazySet(0);
      box.flush();
    }
    box.end();
  }
}
