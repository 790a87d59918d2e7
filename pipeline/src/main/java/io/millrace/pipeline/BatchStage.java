package io.millrace.pipeline;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * {@code batch(maxSize, maxWait)}: emits a batch when it holds {@code maxSize} elements or {@code
 * maxWait} after its first element arrived, whichever comes first, and the last partial batch at
 * the end of the input. One thread.
 */
final class BatchStage implements StageBody {
  private final StageCounters st;
  private final int maxSize;
  private final long maxWaitNanos;
  private final Channel<Object> in;
  private final Outlet out;

  BatchStage(StageCounters st, int maxSize, long maxWaitNanos, Channel<Object> in, Outlet out) {
    this.st = st;
    this.maxSize = maxSize;
    this.maxWaitNanos = maxWaitNanos;
    this.in = in;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    Object[] chunk = Chunks.newChunk(in);
    List<Object> batch = null;
    long deadline = 0;
    while (true) {
      int room = batch == null ? maxSize : maxSize - batch.size();
      long wait = -1;
      if (batch != null) {
        wait = deadline - System.nanoTime();
        if (wait <= 0) {
          emit(batch);
          batch = null;
          continue;
        }
      }
      int k = Chunks.take(in, chunk, Math.min(chunk.length, room), wait);
      if (k < 0) {
        break; // end of input
      }
      if (k == 0) {
        continue; // timed out: the deadline check above emits
      }
      st.in.getAndAdd(k);
      if (batch == null) {
        batch = new ArrayList<>(Math.min(maxSize, 1024));
        deadline = System.nanoTime() + maxWaitNanos;
      }
      for (int i = 0; i < k; i++) {
        batch.add(chunk[i]);
        chunk[i] = null;
      }
      if (batch.size() == maxSize) {
        emit(batch);
        batch = null;
      }
    }
    if (batch != null) {
      emit(batch);
    }
    out.producerDone();
  }

  private void emit(List<Object> batch) throws InterruptedException {
    out.channel.send(Collections.unmodifiableList(batch));
    st.out.getAndIncrement();
  }
}
