package io.millrace.ingest.queue.jetstream;

/**
 * A run of payloads of one work-queue message: indexes {@code [from, to)} of the message at stream
 * sequence {@code seq}. The unit a batch claims in the {@link Ledger}.
 *
 * @param seq the message's stream sequence
 * @param from the first payload index, inclusive
 * @param to the last payload index, exclusive; greater than {@code from}
 */
record Part(long seq, int from, int to) {

  Part {
    if (seq < 1 || from < 0 || to <= from) {
      throw new IllegalArgumentException("not a part: " + seq + " [" + from + ", " + to + ")");
    }
  }

  /** {@return whether the two parts share a payload} */
  boolean overlaps(Part o) {
    return seq == o.seq && from < o.to && o.from < to;
  }

  /** {@return {@code "<seq> <from> <to>"}, the ledger's text form} */
  String text() {
    return seq + " " + from + " " + to;
  }

  /**
   * {@return the part of a ledger line's first three fields}
   *
   * @throws IllegalArgumentException if they are not three numbers
   */
  static Part parse(String[] f, int at) {
    try {
      return new Part(
          Long.parseLong(f[at]), Integer.parseInt(f[at + 1]), Integer.parseInt(f[at + 2]));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a ledger part: " + String.join(" ", f), e);
    }
  }
}
