package io.millrace.ingest.queue.disk;

import java.io.IOException;

/**
 * The log cannot be opened as it is: a segment other than the last one is damaged (a record that
 * was once forced to disk no longer reads back), or segments are missing. A torn tail (the end of
 * the last segment) is not this: recovery cuts it off and reports it.
 */
public final class LogCorruptedException extends IOException {

  LogCorruptedException(String message) {
    super(message);
  }
}
