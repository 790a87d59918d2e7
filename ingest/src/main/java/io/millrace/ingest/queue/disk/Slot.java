package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.Receipt;

/**
 * A {@link DiskJobQueue}'s receipt: one payload of the log, handed out by {@link JobReader} (or
 * rebuilt at start by {@link StartReplay}). Its job's id is {@code <log id>-<position>}, so a
 * replay gives the same id.
 *
 * <p>{@link #owner}, {@link #entry} and {@link #job} are fixed at construction; {@link #batch} and
 * {@link #acked} are guarded by the owner's {@link QueueState#lock}.
 */
final class Slot implements Receipt {
  /** The state of the queue that handed this job out: a job of another queue is rejected. */
  final QueueState owner;

  final LogEntry entry;
  final Job job;
  CutBatch batch; // guarded by owner.lock; null while not cut
  boolean acked; // guarded by owner.lock

  Slot(QueueState owner, LogEntry entry) {
    this.owner = owner;
    this.entry = entry;
    this.job =
        new Job(
            Job.id(owner.idPrefix, entry.position()),
            entry.appendedAtMillis(),
            entry.payload(),
            this);
  }
}
