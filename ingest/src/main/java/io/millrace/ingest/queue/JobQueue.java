package io.millrace.ingest.queue;

import java.util.Optional;

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
