package io.millrace.pipeline;

import java.util.Arrays;

/**
 * A source that drains a channel the caller owns ({@code from(Channel)}) until it is closed; a
 * channel ended with {@link Channel#fail} fails the run with that cause. The run never closes it.
 */
final class ChannelSourceStage implements StageBody {
  private final RunScope scope;
  private final StageCounters st;
  private final Channel<?> source;
  private final Outlet out;

  ChannelSourceStage(RunScope scope, StageCounters st, Channel<?> source, Outlet out) {
    this.scope = scope;
    this.st = st;
    this.source = source;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    Object[] buf = Chunks.newChunk(out.channel);
    while (true) {
      int n;
      try {
        n = source.drainTo(buf, buf.length, -1);
      } catch (ChannelClosedException e) {
        if (e.isFailure()) {
          scope.fail(st, e.getCause());
          return;
        }
        break;
      }
      st.in.getAndAdd(n);
      out.channel.sendAll(buf, n, st.out);
      Arrays.fill(buf, 0, n, null);
    }
    out.producerDone();
  }
}
