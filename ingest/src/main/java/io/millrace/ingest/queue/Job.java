package io.millrace.ingest.queue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One admitted payload, immutable: the id given at admission, when it was admitted, its bytes
 * (compact JSON exactly as the client sent it, one line, no newline), and the receipt its queue
 * acknowledges it by.
 *
 * <p>Identity, not value, equality: two jobs are the same job only if they are the same object.
 */
public final class Job {
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private final String id;
  private final long admittedAtMillis;
  private final byte[] payload;
  private final Receipt receipt;

  /**
   * Creates a job; only queues do.
   *
   * @param id the id given at admission
   * @param admittedAtMillis when it was admitted, epoch milliseconds
   * @param payload the payload bytes, not copied: nobody may modify them afterwards
   * @param receipt how the queue that hands it out acknowledges it
   */
  public Job(String id, long admittedAtMillis, byte[] payload, Receipt receipt) {
    this.id = id;
    this.admittedAtMillis = admittedAtMillis;
    this.payload = payload;
    this.receipt = receipt;
  }

  /**
   * {@return the id {@code <prefix><seq as 12 lower-case hex digits>}, built without intermediate
   * strings (hot path)}
   *
   * @param prefix the id's prefix, ASCII
   * @param seq the sequence number
   */
  public static String id(byte[] prefix, long seq) {
    byte[] b = Arrays.copyOf(prefix, prefix.length + 12);
    for (int i = b.length - 1; i >= prefix.length; i--) {
      b[i] = HEX[(int) (seq & 0xF)];
      seq >>>= 4;
    }
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  /** {@return the id assigned at admission; object keys derive from it} */
  public String id() {
    return id;
  }

  /** {@return when the payload was admitted, epoch milliseconds; the key's date and hour} */
  public long admittedAtMillis() {
    return admittedAtMillis;
  }

  /** {@return the payload bytes; callers must not modify them} */
  public byte[] payload() {
    return payload;
  }

  /** {@return how the queue that handed it out acknowledges it (for that queue only)} */
  public Receipt receipt() {
    return receipt;
  }

  @Override
  public String toString() {
    return "Job[" + id + ", " + payload.length + " bytes]";
  }
}
