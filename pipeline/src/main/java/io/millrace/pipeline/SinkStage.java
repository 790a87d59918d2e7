package io.millrace.pipeline;

/** The last stage of every run: hands each element to the caller's consumer, in order. */
final class SinkStage implements StageBody {
  private final StageCounters st;
  private final ThrowingConsumer<Object> sink;
  private final Channel<Object> in;

  SinkStage(StageCounters st, ThrowingConsumer<Object> sink, Channel<Object> in) {
    this.st = st;
    this.sink = sink;
    this.in = in;
  }

  @Override
  public void run() throws Exception {
    StageCounters st = this.st;
    ThrowingConsumer<Object> sink = this.sink;
    Channel<Object> in = this.in;
    Object[] chunk = Chunks.newChunk(in);
    while (true) {
      int n;
      try {
        n = in.drainTo(chunk, chunk.length, -1);
      } catch (ChannelClosedException e) {
        return; // end of input, or stopping
      }
      st.in.getAndAdd(n);
      st.inFlight.lazySet(1);
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        sink.accept(item);
        st.out.lazySet(st.out.get() + 1);
      }
      st.busyNanos.getAndAdd(System.nanoTime() - t0);
      st.inFlight.lazySet(0);
    }
  }
}
