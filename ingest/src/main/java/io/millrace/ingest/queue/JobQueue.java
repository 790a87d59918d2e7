package io.millrace.ingest.queue;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * A queue opened for one role: the capabilities that role uses, its budget and its life cycle. An
 * ingest node's queue has an {@link Intake} and no {@link JobSource}; a worker's the reverse; a
 * process that does both has both.
 *
 * <p>Implementations: {@code queue.disk.DiskJobQueue} (the default: a durable log on local disk,
 * 202 after fsync, replayed at start), {@code queue.memory.MemoryJobQueue} (this process only;
 * spill files at shutdown) and {@code queue.jetstream.JetStreamJobQueue} (NATS JetStream: durable,
 * shared by many processes). A new one implements these interfaces and joins the queue contract
 * test.
 */
public interface JobQueue extends AutoCloseable {

  /** {@return the admission side, present when this role admits} */
  Optional<Intake> intake();

  /** {@return the delivery side, present when this role stores} */
  Optional<JobSource> source();

  /** {@return payloads and bytes taken in here and not yet stored, and their limits} */
  Budget budget();

  /**
   * {@return how long the oldest payload taken in here and not yet stored has waited, in
   * milliseconds: 0 when there is none; empty when this queue cannot tell (a node that only admits
   * into a shared queue)}
   *
   * <p>By default, from the admission times of {@link JobSource#unacknowledged()} (which costs a
   * pass over what is held); a queue that knows its oldest entry answers without one. With a shared
   * queue this is what this worker holds: messages not pulled yet are younger than the ones held,
   * except redelivered ones.
   *
   * @param nowMillis the time now, epoch milliseconds, on the clock of the admission times
   */
  default OptionalLong oldestUnstoredAgeMillis(long nowMillis) {
    if (source().isEmpty()) {
      return OptionalLong.empty();
    }
    long oldest = Long.MAX_VALUE;
    for (Job j : source().get().unacknowledged()) {
      oldest = Math.min(oldest, j.admittedAtMillis());
    }
    return OptionalLong.of(oldest == Long.MAX_VALUE ? 0 : Math.max(0, nowMillis - oldest));
  }

  /** {@return why the queue cannot serve this role right now, or null} */
  String notReadyReason();

  /**
   * Stops taking in, for the whole queue (shutdown): the intake answers {@link
   * Admission.ShuttingDown}, and the source takes in nothing more; its iteration ends once what was
   * taken in is handed out.
   */
  void closeAdmission();

  /**
   * Closes admission, ends delivery, waits for requests inside admission (up to the queue's own
   * timeout), and releases every thread and connection the queue started. Jobs still held and not
   * handed over stay where the queue keeps them (lost for the in-memory queue).
   */
  @Override
  void close();
}
