package io.millrace.ingest.queue.disk;

import java.io.IOException;

/**
 * The write failed on an I/O error, and was rolled back: none of it is in the log (the partial
 * bytes were truncated), and later writes are tried afresh, so appends succeed again once the cause
 * is gone (space freed, say).
 */
public final class LogIoException extends LogException {

  /** What kind of failure. */
  public enum Reason {
    /** The file system is full ({@code ENOSPC}) or over quota. */
    DISK_FULL,
    /** Any other I/O error. */
    IO_ERROR
  }

  private final Reason reason;

  LogIoException(String what, IOException cause) {
    super(describe(what, cause), cause);
    this.reason = isDiskFull(cause) ? Reason.DISK_FULL : Reason.IO_ERROR;
  }

  /** {@return what kind of failure this was} */
  public Reason reason() {
    return reason;
  }

  private static String describe(String what, IOException cause) {
    String kind = isDiskFull(cause) ? "disk full" : "I/O error";
    return "local log: " + kind + " while " + what + ": " + cause;
  }

  static boolean isDiskFull(Throwable t) {
    for (; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && (m.contains("No space left on device") || m.contains("Disk quota"))) {
        return true;
      }
    }
    return false;
  }
}
