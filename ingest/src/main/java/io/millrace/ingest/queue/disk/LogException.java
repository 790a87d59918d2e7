package io.millrace.ingest.queue.disk;

/**
 * Why a write to the log ({@link DiskLog#append}, {@link DiskLog#cut}, {@link DiskLog#markStored})
 * did not complete. Every case leaves the log consistent and usable; the HTTP layer answers 503
 * with {@link #getMessage()} as the detail.
 */
public abstract sealed class LogException extends Exception
    permits LogIoException, LogTimeoutException, LogClosedException {

  LogException(String message, Throwable cause) {
    super(message, cause);
  }
}
