package io.millrace.pipeline;

/**
 * {@code alsoTo(sink)}: passes every element on and hands it to a side sink that runs on a thread
 * of its own (stage {@code side}), through a bounded buffer. A slow side sink fills that buffer and
 * then holds this stage back, like a slow stage downstream: back-pressure is shared. The side sink
 * sees every element this stage passed on, in order, up to the end of the input; if it throws, the
 * run fails.
 */
final class AlsoToStage implements StageBody {
  private final RunScope scope;
  private final StageCounters st;
  private final StageCounters side;
  private final ThrowingConsumer<Object> sink;
  private final Channel<Object> in;
  private final Outlet out;

  AlsoToStage(
      RunScope scope,
      StageCounters st,
      StageCounters side,
      ThrowingConsumer<Object> sink,
      Channel<Object> in,
      Outlet out) {
    this.scope = scope;
    this.st = st;
    this.side = side;
    this.sink = sink;
    this.in = in;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    Channel<Object> toSide = Channel.buffered(out.channel.capacity());
    scope.register(side, toSide);
    scope.fork(side, new SinkStage(side, sink, toSide));
    Object[] chunk = Chunks.newChunk(in);
    while (true) {
      int n = Chunks.take(in, chunk, chunk.length, -1);
      if (n < 0) {
        break;
      }
      st.in.getAndAdd(n);
      toSide.sendAll(chunk, n);
      out.channel.sendAll(chunk, n, st.out);
      java.util.Arrays.fill(chunk, 0, n, null);
    }
    toSide.close(); // the side sink takes what is left, then ends
    out.producerDone();
  }
}
