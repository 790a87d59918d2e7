package io.millrace.ingest.queue;

import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;

/**
 * The delivery side of a queue, what the workers use: jobs to store, acknowledged once stored. Only
 * a role that stores gets one.
 *
 * <p>Thread-safe: {@link #jobs()} is read by one worker source, {@link #ack} and {@link
 * Redelivery#giveBack} come from upload threads.
 */
public interface JobSource {

  /**
   * The jobs to work on, in admission order. {@code next()} blocks while none is waiting; the
   * iteration ends once admission is closed (or the source {@linkplain #abandon abandoned}) and
   * every job taken in has been handed out. An interrupt while waiting ends the iteration with an
   * unchecked exception and the flag set. Call once.
   *
   * @return the one iterator of this source
   */
  Iterator<Job> jobs();

  /**
   * Acknowledges jobs as stored: their budget is released and they are forgotten. Acknowledging a
   * job twice, or one given back, does nothing.
   *
   * @param stored jobs handed out by this source
   * @throws IllegalArgumentException for a job of another queue
   */
  void ack(Collection<Job> stored);

  /**
   * {@return the redelivery side, if this source can take jobs back (deliver them later, maybe to
   * another process); empty when jobs have nowhere better to wait than here, so uploads retry until
   * they are stored}
   */
  Optional<Redelivery> redelivery();

  /** {@return every job taken in and not yet acknowledged, in no set order} */
  List<Job> unacknowledged();

  /**
   * {@return batches formed before a restart (read back at start), to be stored again whole, so
   * under the same key; their jobs are counted as taken in but are not handed out by {@link
   * #jobs()}}
   */
  default List<List<Job>> replayedBatches() {
    return List.of();
  }

  /** {@return how many payloads were read back at start (in or out of replayed batches)} */
  default int replayedPayloads() {
    return 0;
  }

  /**
   * At shutdown, after the workers have stopped: keeps what is not stored from being lost. A shared
   * queue gives it back (delivered again at once, maybe to another process); the in-memory queue
   * writes it to spill files, each formed batch whole so that it is stored under the same key.
   *
   * @param formedBatches batches formed and not stored (kept whole where the source can)
   * @return what was done
   */
  Handover handOver(List<List<Job>> formedBatches);

  /**
   * The consumer of {@link #jobs()} died: nothing handed out will be acknowledged any more. The
   * source stops taking in jobs and ends the iteration; a shared queue gives back what it holds now
   * (as failed, so a poison message still ends in the dead letters), instead of keeping it from the
   * other workers. The in-memory queue keeps its jobs for {@link #handOver}.
   *
   * @param cause why the consumer died (not null)
   */
  void abandon(Throwable cause);
}
