package io.millrace.ingest.queue.disk;

/**
 * Where one append landed: its payloads hold positions {@code first .. first + count - 1}, in the
 * order given.
 *
 * @param first the position of the first payload
 * @param count how many payloads
 */
public record Positions(long first, int count) {

  /** {@return the position of the last payload} */
  public long last() {
    return first + count - 1;
  }
}
