package io.millrace.pipeline;

/**
 * How stages take their input: in chunks of up to {@link Pipeline#CHUNK} elements, which cuts the
 * locking per element. (The output side is {@link Outbox}.)
 */
final class Chunks {
  private Chunks() {}

  /** {@return an array for the chunks a stage takes from, or hands on to, {@code channel}} */
  static Object[] newChunk(Channel<?> channel) {
    return new Object[Math.min(Pipeline.CHUNK, channel.capacity())];
  }

  /**
   * Moves a chunk from a buffer of the run (see {@link Channel#drainTo}).
   *
   * @return how many elements were moved (0 only on timeout), or -1 at the end of the input
   * @throws ChannelClosedException if the run is stopping (its buffers are failed only then), a
   *     consequence of the stop that the run drops
   */
  static int take(Channel<Object> in, Object[] chunk, int max, long timeoutNanos)
      throws InterruptedException {
    try {
      return in.drainTo(chunk, max, timeoutNanos);
    } catch (ChannelClosedException e) {
      if (e.isFailure()) {
        throw e;
      }
      return -1;
    }
  }
}
