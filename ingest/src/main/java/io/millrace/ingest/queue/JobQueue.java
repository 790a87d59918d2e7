package io.millrace.ingest.queue;

import io.millrace.ingest.queue.jetstream.JetStreamJobQueue;
import io.millrace.ingest.queue.memory.MemoryJobQueue;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;

/**
 * Where admitted payloads wait for the workers. Bounded by a payload count and a byte budget that
 * cover every job from admission until it is acknowledged as stored, so memory stays flat under any
 * overload. No thread or task exists per waiting job.
 *
 * <p>Implementations: {@link MemoryJobQueue} (this process only) and {@link JetStreamJobQueue}
 * (NATS JetStream: durable, shared by many processes; a message is acknowledged only in {@link
 * #ack}, after its object is stored).
 *
 * <p>Thread-safe: {@link #admit} is called from many request threads at once, {@link #jobs()} is
 * read by one worker source, {@link #ack} from upload threads.
 */
public interface JobQueue extends AutoCloseable {

  /**
   * Admits every payload, in order, or none. Assigns each an id.
   *
   * @param payloads compact JSON payloads, each non-empty
   * @return {@link Admission.Admitted}, {@link Admission.QueueFull} or {@link
   *     Admission.ShuttingDown}; never blocks
   */
  default Admission admit(List<byte[]> payloads) {
    return admit(payloads, null);
  }

  /**
   * Admits every payload, in order, or none, unless a request with the same idempotency key was
   * admitted within the queue's duplicate window: then nothing new is admitted and the answer is
   * {@link Admission.Replayed}. May block for as long as the queue's own acknowledgement takes (a
   * durable queue); never longer than its configured timeout.
   *
   * @param payloads compact JSON payloads, each non-empty
   * @param idempotencyKey the client's {@code Idempotency-Key}, or null
   * @return what happened to the request, as a whole
   */
  Admission admit(List<byte[]> payloads, String idempotencyKey);

  /**
   * Whether jobs that could not be stored go back to the queue through {@link #release} (a durable
   * queue redelivers them later, perhaps to another process) rather than being retried in place
   * forever, and whether unacknowledged jobs survive this process (so shutdown needs no spill
   * file).
   *
   * @return true for a durable, redelivering queue
   */
  default boolean durable() {
    return false;
  }

  /**
   * Gives jobs back unstored: they are delivered again later (after a delay that grows with each
   * delivery), or, once delivered too often, moved to the dead letters. Only for a {@link
   * #durable()} queue.
   *
   * @param jobs jobs handed out and not acknowledged
   * @param cause why they could not be stored, or null at shutdown (delivered again at once)
   */
  default void release(Collection<Job> jobs, Throwable cause) {
    throw new UnsupportedOperationException("only a durable queue takes jobs back");
  }

  /** {@return why the queue cannot admit or deliver right now (broker unreachable...), or null} */
  default String notReadyReason() {
    return null;
  }

  /**
   * The jobs to work on, in admission order. {@code next()} blocks while the queue is empty; the
   * iteration ends once the queue is closed and every job has been handed out. An interrupt while
   * waiting ends the iteration with an unchecked exception and the flag set. Call once.
   *
   * @return the one iterator of this queue
   */
  Iterator<Job> jobs();

  /**
   * Acknowledges jobs as stored: their budget is released and they are forgotten.
   *
   * @param stored jobs handed out by {@link #jobs()} (or adopted), each acknowledged once
   */
  void ack(Collection<Job> stored);

  /**
   * Takes in jobs read back from a spill file, bypassing the limits (they were within them when
   * they were admitted). With {@code waiting} they are handed out again by {@link #jobs()};
   * without, the caller hands them to the workers itself and they are only counted and tracked
   * until {@link #ack}.
   *
   * @param jobs the jobs, ids kept
   * @param waiting whether {@link #jobs()} should hand them out
   */
  void adopt(List<Job> jobs, boolean waiting);

  /** Stops admission: later {@link #admit} calls answer {@link Admission.ShuttingDown}. */
  void closeAdmission();

  /** {@return every job admitted or adopted and not yet acknowledged, in no set order} */
  List<Job> unacknowledged();

  /** {@return payloads admitted and not yet acknowledged} */
  long payloads();

  /** {@return bytes of payload admitted and not yet acknowledged} */
  long bytes();

  /** {@return the payload limit} */
  long maxPayloads();

  /** {@return the byte limit} */
  long maxBytes();

  /** Closes admission; the queue's iterator ends once it is drained. */
  @Override
  void close();
}
