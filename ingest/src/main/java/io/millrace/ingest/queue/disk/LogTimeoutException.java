package io.millrace.ingest.queue.disk;

/**
 * The write was not durable within the caller's timeout. If {@link #mayBeWritten()} is false it was
 * withdrawn before any of it reached the file and never will; if true the writer had already taken
 * it, and it may still become durable (and, for an append, be delivered to readers).
 */
public final class LogTimeoutException extends LogException {
  private final boolean mayBeWritten;

  LogTimeoutException(String message, boolean mayBeWritten) {
    super(message, null);
    this.mayBeWritten = mayBeWritten;
  }

  /** {@return whether the write may still land} */
  public boolean mayBeWritten() {
    return mayBeWritten;
  }
}
