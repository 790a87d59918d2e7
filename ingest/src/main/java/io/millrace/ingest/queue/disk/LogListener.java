package io.millrace.ingest.queue.disk;

/**
 * Hooks for metrics. Called on the log's writer thread: implementations must be fast and must not
 * block or call back into the log.
 */
public interface LogListener {

  /** A listener that does nothing. */
  LogListener NONE = new LogListener() {};

  /**
   * A batch of writes was forced to disk.
   *
   * @param nanos how long the force took
   * @param writes how many writes (appends and control records) it made durable
   */
  default void onFsync(long nanos, int writes) {}

  /**
   * A batch of writes failed and was rolled back; each of its callers got {@code failure}.
   *
   * @param failure what they got
   */
  default void onWriteError(LogIoException failure) {}

  /**
   * A segment file was deleted: every payload in it is stored.
   *
   * @param fileName its name
   * @param bytes its size
   */
  default void onSegmentDeleted(String fileName, long bytes) {}
}
