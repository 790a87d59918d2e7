package io.millrace.ingest.queue;

import io.millrace.ingest.queue.memory.SpillFile;

/**
 * One admitted payload: the id given at admission, when it was admitted, and its bytes (compact
 * JSON exactly as the client sent it, one line, no newline).
 *
 * <p>Identity, not value, equality: two jobs are the same job only if they are the same object.
 */
public final class Job {
  private final String id;
  private final long admittedAtMillis;
  private byte[] payload; // dropped (null) once stored: guarded by the queue's lock
  private final SpillFile origin; // null unless replayed from a spill file
  private final Object delivery; // the queue's handle of the message this job came in, or null
  public boolean acked; // guarded by the queue's lock

  public Job(String id, long admittedAtMillis, byte[] payload, SpillFile origin) {
    this(id, admittedAtMillis, payload, origin, null);
  }

  public Job(String id, long admittedAtMillis, byte[] payload, SpillFile origin, Object delivery) {
    this.id = id;
    this.admittedAtMillis = admittedAtMillis;
    this.payload = payload;
    this.origin = origin;
    this.delivery = delivery;
  }

  public Object delivery() {
    return delivery;
  }

  private static final byte[] HEX =
      "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /**
   * {@return the id {@code <prefix><seq as 12 lower-case hex digits>}, built without intermediate
   * strings (hot path)}
   */
  public static String id(byte[] prefix, long seq) {
    byte[] b = java.util.Arrays.copyOf(prefix, prefix.length + 12);
    for (int i = b.length - 1; i >= prefix.length; i--) {
      b[i] = HEX[(int) (seq & 0xF)];
      seq >>>= 4;
    }
    return new String(b, java.nio.charset.StandardCharsets.ISO_8859_1);
  }

  /** {@return the id assigned at admission; object keys derive from it} */
  public String id() {
    return id;
  }

  /** {@return when the payload was admitted, epoch milliseconds; the key's date and hour} */
  public long admittedAtMillis() {
    return admittedAtMillis;
  }

  /**
   * {@return the payload bytes (null once the job is acknowledged); callers must not modify them}
   */
  public byte[] payload() {
    return payload;
  }

  public void dropPayload() {
    payload = null;
  }

  public SpillFile origin() {
    return origin;
  }

  @Override
  public String toString() {
    return "Job[" + id + (payload == null ? ", stored]" : ", " + payload.length + " bytes]");
  }
}
