package io.millrace.pipeline;

import java.util.function.BiFunction;

/**
 * {@code left.zip(right, fn)}: emits {@code fn(l_i, r_i)} for the i-th element of each input, in
 * order, and ends when either input ends; then it {@link Region#cut cuts} the other input's region,
 * so the longer input stops (an endless one too) and the run goes on downstream. The input that
 * ended is left to end by itself (an {@code alsoTo} side sink in it still sees everything). One
 * thread; each input has its own buffer and its own upstream threads.
 */
final class ZipStage implements StageBody {
  private final StageCounters st;
  private final BiFunction<Object, Object, Object> fn;
  private final Channel<Object> left;
  private final Channel<Object> right;
  private final Region leftRegion;
  private final Region rightRegion;
  private final Outlet out;

  ZipStage(
      StageCounters st,
      BiFunction<Object, Object, Object> fn,
      Channel<Object> left,
      Region leftRegion,
      Channel<Object> right,
      Region rightRegion,
      Outlet out) {
    this.st = st;
    this.fn = fn;
    this.left = left;
    this.right = right;
    this.leftRegion = leftRegion;
    this.rightRegion = rightRegion;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    Object[] l = Chunks.newChunk(left);
    Object[] r = Chunks.newChunk(right);
    int ln = 0; // elements in l
    int li = 0; // next one to pair
    int rn = 0;
    int ri = 0;
    Outbox box = new Outbox(st, out);
    while (true) {
      if (li == ln) {
        box.flush(); // before blocking for more input
        ln = Chunks.take(left, l, l.length, -1);
        li = 0;
        if (ln < 0) {
          rightRegion.cut(); // the left side ended by itself
          break;
        }
        st.in.getAndAdd(ln);
      }
      if (ri == rn) {
        box.flush();
        rn = Chunks.take(right, r, r.length, -1);
        ri = 0;
        if (rn < 0) {
          leftRegion.cut();
          break;
        }
        st.in.getAndAdd(rn);
      }
      box.mark(System.nanoTime());
      int k = Math.min(ln - li, rn - ri);
      for (int i = 0; i < k; i++) {
        Object v = fn.apply(l[li], r[ri]);
        l[li++] = null;
        r[ri++] = null;
        box.add(v);
      }
    }
    box.end();
  }
}
