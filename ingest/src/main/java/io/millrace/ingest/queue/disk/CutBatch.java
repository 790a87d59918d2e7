package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Job;
import java.util.ArrayList;
import java.util.List;

/**
 * A batch of a {@link DiskJobQueue} cut in the log and not yet recorded stored: its range of
 * positions, its slots in order, and the {@link FixedBatch} named from the range.
 *
 * <p>{@link #range}, {@link #slots} and {@link #batch} are fixed at construction; {@link #unacked}
 * (the slots not yet acknowledged) is guarded by the queue's {@link QueueState#lock}.
 */
final class CutBatch {
  final BatchRange range;
  final List<Slot> slots;
  final FixedBatch batch;
  int unacked; // guarded by the queue's lock

  CutBatch(BatchRange range, List<Slot> slots, String name) {
    this.range = range;
    this.slots = slots;
    List<Job> jobs = new ArrayList<>(slots.size());
    for (Slot s : slots) {
      jobs.add(s.job);
    }
    this.batch = new FixedBatch(name, jobs, true);
  }
}
