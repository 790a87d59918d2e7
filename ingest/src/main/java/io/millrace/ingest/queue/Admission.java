package io.millrace.ingest.queue;

/** What {@link Intake#admit} answers: all payloads of a request admitted, or none. */
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

  /**
   * Nothing new was admitted: the request repeats one admitted earlier under the same {@code
   * Idempotency-Key} (within the queue's duplicate window), whose payloads are in the queue.
   *
   * @param count how many payloads this request holds
   */
  record Replayed(int count) implements Admission {}

  /** None was admitted: the queue no longer admits (the service is shutting down). */
  record ShuttingDown() implements Admission {}

  /**
   * None was admitted: the queue cannot be reached (broker down, no acknowledgement in time). A
   * timed-out request may have landed after all: clients retry with the same {@code
   * Idempotency-Key} to be admitted once.
   *
   * @param retryAfterSeconds a hint for the client's {@code Retry-After}
   * @param reason what went wrong, for the problem's detail
   */
  record Unavailable(int retryAfterSeconds, String reason) implements Admission {}

  /**
   * None was admitted: the request is larger than the queue can ever take in one piece.
   *
   * @param detail the sizes involved
   */
  record TooLarge(String detail) implements Admission {}

  /**
   * None was admitted: the queue's own storage failed while writing the request (the local log's
   * disk is full, or an I/O error), and the write was rolled back. The queue recovers by itself
   * once the cause is gone (space freed).
   *
   * @param cause what failed
   * @param detail the failure, for the problem's detail
   */
  record WriteFailed(WriteFailure cause, String detail) implements Admission {}

  /** Why the queue's storage could not take a request. */
  enum WriteFailure {
    /** The file system is full or over quota. */
    DISK_FULL,
    /** Any other I/O error. */
    IO_ERROR
  }
}
