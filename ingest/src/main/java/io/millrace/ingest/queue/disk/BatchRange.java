package io.millrace.ingest.queue.disk;

/**
 * A batch: the payloads at positions {@code first..last} (inclusive), fixed in the log by {@link
 * DiskLog#cut} before it is uploaded, so that after any crash the same batch is rebuilt from the
 * same payloads and stored under the same key.
 *
 * @param first position of the first payload
 * @param last position of the last payload, {@code >= first}
 * @param firstByte payload bytes appended before {@code first}
 * @param endByte payload bytes appended up to and including {@code last}
 * @param cutAtMillis when the cut was recorded (epoch milliseconds)
 */
public record BatchRange(long first, long last, long firstByte, long endByte, long cutAtMillis) {

  /** Checks the range's shape. */
  public BatchRange {
    if (first < 0 || last < first || firstByte < 0 || endByte < firstByte) {
      throw new IllegalArgumentException(
          "not a range: [" + first + ", " + last + "] bytes [" + firstByte + ", " + endByte + ")");
    }
  }

  /** {@return how many payloads the batch holds} */
  public long count() {
    return last - first + 1;
  }

  /** {@return the payload bytes in the batch} */
  public long bytes() {
    return endByte - firstByte;
  }

  /**
   * {@return a name that derives only from the range, {@code <first>-<last>} in 20 zero-padded
   * digits each, so names sort in log order; use it in the batch's object key}
   */
  public String name() {
    return String.format("%020d-%020d", first, last);
  }
}
