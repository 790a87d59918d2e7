package io.millrace.pipeline;

/**
 * {@code throttle(elements, per)}: hands elements on one at a time so that no span of {@code per}
 * sees more than {@code elements} of them handed on. One thread.
 *
 * <p>A sliding window: the stage remembers when it handed on each of the last {@code elements}
 * elements (a ring of timestamps, 8 bytes per element of the limit) and before handing on the next
 * one waits until the oldest of those is {@code per} in the past. Timestamps are taken after the
 * hand-off returns, so a wait for room downstream never lets a later burst through. Bursts up to
 * {@code elements} go through at once; no timer runs when no element waits.
 */
final class ThrottleStage implements StageBody {
  private final StageCounters st;
  private final int elements;
  private final long perNanos;
  private final Pacer pacer;
  private final Channel<Object> in;
  private final Outlet out;

  ThrottleStage(
      StageCounters st, int elements, long perNanos, Pacer pacer, Channel<Object> in, Outlet out) {
    this.st = st;
    this.elements = elements;
    this.perNanos = perNanos;
    this.pacer = pacer;
    this.in = in;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    long[] sent = new long[elements]; // ring: when each of the last `elements` was handed on
    long count = 0; // how many were handed on in all
    Object[] chunk = Chunks.newChunk(in);
    while (true) {
      int n = Chunks.take(in, chunk, chunk.length, -1);
      if (n < 0) {
        break;
      }
      st.in.getAndAdd(n);
      for (int i = 0; i < n; i++) {
        Object item = chunk[i];
        chunk[i] = null;
        int slot = (int) (count % elements);
        if (count >= elements) {
          long wait = sent[slot] + perNanos - pacer.nanoTime();
          while (wait > 0) {
            pacer.sleepNanos(wait);
            wait = sent[slot] + perNanos - pacer.nanoTime();
          }
        }
        out.send(st, item);
        sent[slot] = pacer.nanoTime();
        count++;
      }
    }
    out.producerDone();
  }
}
