package io.millrace.ingest.queue.disk;

/** The log is closed: nothing more is written, and a reader has read everything there was. */
public final class LogClosedException extends LogException {

  LogClosedException(String message) {
    super(message, null);
  }
}
