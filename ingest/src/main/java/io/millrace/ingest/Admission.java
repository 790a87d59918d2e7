package io.millrace.ingest;

/** What {@link JobQueue#admit} answers: all payloads of a request admitted, or none. */
public sealed interface Admission {

  /**
   * Every payload was admitted.
   *
   * @param count how many
   */
  record Admitted(int count) implements Admission {}

  /**
   * None was admitted: the payload or byte budget would be exceeded.
   *
   * @param retryAfterSeconds a hint for the client's {@code Retry-After}
   */
  record QueueFull(int retryAfterSeconds) implements Admission {}

  /** None was admitted: the queue no longer admits (the service is shutting down). */
  record ShuttingDown() implements Admission {}
}
