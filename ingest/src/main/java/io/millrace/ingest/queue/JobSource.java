package io.millrace.ingest.queue;

import java.io.IOException;
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
   * job twice, or one given back, does nothing. A recording source releases the budget of a fixed
   * batch once every job of it is acknowledged and the batch is recorded stored.
   *
   * @param stored jobs handed out by this source
   * @throws IllegalArgumentException for a job of another queue
   */
  void ack(Collection<Job> stored);

  /**
   * Fixes a batch before it is encoded and uploaded: its content (these jobs, in this order) and
   * its {@linkplain FixedBatch#name() name}, from which the object key derives. A source that
   * records batches ({@link FixedBatch#recoverable()}) makes the record durable before returning,
   * so after a crash the same batch comes back ({@link #replayedBatches()}) under the same name: a
   * replay rewrites the same object instead of adding a duplicate.
   *
   * <p>Call from one thread, once per batch, in the order batches were formed from {@link #jobs()}:
   * each batch is a run of jobs as they were handed out, following the previous one without gaps (a
   * recording source refuses anything else). A batch of {@link #replayedBatches()} is already
   * fixed: fixing it again returns it as it was recorded. On an exception nothing is fixed and the
   * same call may be retried.
   *
   * <p>A source shared with other processes (JetStream) may find that some of the jobs are in a
   * batch another worker fixed first (it froze or died holding their messages): the returned batch
   * then holds only the others, in order, and that other batch comes out of {@link #rebuilt()}; if
   * none is left, {@code fix} returns null and there is nothing to store.
   *
   * <p>The default (a source that records nothing) names the batch {@link FixedBatch#nameOf} and
   * does not block.
   *
   * @param batch jobs handed out by this source and not yet acknowledged, at least one
   * @return the fixed batch, or null if every job of it belongs to a batch fixed elsewhere
   * @throws IOException if the batch could not be recorded (disk full, I/O error, timeout)
   * @throws InterruptedException if interrupted before the batch was recorded
   * @throws IllegalArgumentException if the jobs are not the next run of this source's jobs
   */
  default FixedBatch fix(List<Job> batch) throws IOException, InterruptedException {
    return new FixedBatch(FixedBatch.nameOf(batch), batch, false);
  }

  /**
   * Batches the source fixed by itself while running, to be stored like those of {@link #fix} (not
   * fixed again) and acknowledged with {@link #ack(FixedBatch)}: JetStream's batches rebuilt from
   * its ledger after a redelivery, with the content and name their first worker fixed. {@code
   * next()} blocks while none is ready; the iteration ends once {@link #jobs()} can end and nothing
   * is being rebuilt. Call once. The default has none.
   *
   * @return the one iterator of rebuilt batches
   */
  default Iterator<FixedBatch> rebuilt() {
    return java.util.Collections.emptyIterator();
  }

  /**
   * Acknowledges a fixed batch as stored, whole: like {@link #ack(Collection)} of its jobs; a
   * recording source also records the batch as stored, so it is not replayed again.
   *
   * @param stored a batch from {@link #fix}, its object stored
   */
  default void ack(FixedBatch stored) {
    ack(stored.jobs());
  }

  /**
   * {@return how many payloads this source hands out at most while none of them is acknowledged
   * (its in-flight bound; {@link Long#MAX_VALUE} when it has none of its own). {@link #jobs()}
   * blocks at the bound, so a batch formed from more than half of it cannot fill while the previous
   * one is being stored: it would be cut only by age. Batching keeps within half}
   */
  default long handOutLimit() {
    return Long.MAX_VALUE;
  }

  /** {@return the payload bytes counterpart of {@link #handOutLimit()}} */
  default long handOutByteLimit() {
    return Long.MAX_VALUE;
  }

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
