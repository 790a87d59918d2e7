package io.millrace.pipeline;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Collects a stage's output and hands it on in chunks.
 *
 * <p>Reading the clock for every element would cost more than the hand-off it saves, so the outbox
 * reads it every {@code every} elements, where {@code every} adapts to the measured cost of an
 * element: about half of {@link #LINGER_NANOS} worth of elements, at least 1, at most a chunk.
 * Produced elements are handed on when a chunk is full, when the linger has passed since the last
 * hand-off, and always before the stage blocks for more input ({@link #flush}).
 *
 * <p>Used by one thread, the stage's.
 */
final class Outbox {

  /** How long a stage may hold produced elements before handing them on. */
  static final long LINGER_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

  private final StageCounters st;
  private final Outlet out;
  private final Object[] buf;
  private int n;
  private int every = 1;
  private int sinceCheck;
  private long lastCheck;
  private long lastFlush;

  Outbox(StageCounters st, Outlet out) {
    this.st = st;
    this.out = out;
    this.buf = Chunks.newChunk(out.channel);
  }

  /** Starts a stretch of work: the clock was just read. */
  void mark(long now) {
    lastCheck = now;
    lastFlush = now;
    sinceCheck = 0;
  }

  void add(Object v) throws InterruptedException {
    if (v == null) {
      throw new NullPointerException("stage '" + st.name + "' produced null");
    }
    buf[n++] = v;
    if (n == buf.length) {
      flush();
      return;
    }
    if (++sinceCheck >= every) {
      long now = System.nanoTime();
      long perElement = Math.max(1, (now - lastCheck) / sinceCheck);
      every = (int) Math.max(1, Math.min(Pipeline.CHUNK, LINGER_NANOS / (2 * perElement)));
      lastCheck = now;
      sinceCheck = 0;
      if (now - lastFlush > LINGER_NANOS) {
        flush();
        lastFlush = now;
      }
    }
  }

  void flush() throws InterruptedException {
    if (n > 0) {
      out.channel.sendAll(buf, n, st.out);
      Arrays.fill(buf, 0, n, null);
      n = 0;
    }
  }

  /** Flushes and tells the buffer this producer is done. */
  void end() throws InterruptedException {
    flush();
    out.producerDone();
  }
}
