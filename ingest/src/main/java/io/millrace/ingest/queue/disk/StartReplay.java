package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.memory.Spill;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a {@link DiskJobQueue} takes in at start, before it admits anything or hands anything out:
 * the batches cut before the restart and not recorded stored, rebuilt from their ranges under the
 * same names and counted in flight ({@link #rebuildPending}), and the payloads of the memory
 * queue's old spill files, appended to the log in records within its record limit, each file
 * deleted once its appends are durable ({@link #migrate}). A pending batch missing from the log, or
 * a spill file that cannot be read or appended, fails the start: nothing is skipped.
 *
 * <p>Runs on the opening thread only, before the queue is published; the rebuilt batches enter
 * {@link QueueState} under its lock.
 */
final class StartReplay {
  private static final Logger LOG = LoggerFactory.getLogger(DiskJobQueue.class); // as before

  private StartReplay() {}

  /**
   * Rebuilds the batches the recovery found cut and not stored, in order, each counted in flight.
   *
   * @return the jobs of each batch, to store again whole
   * @throws IOException if a pending batch is not in the log
   */
  static List<List<Job>> rebuildPending(DiskLog log, QueueState state, RecoveryReport report)
      throws IOException, InterruptedException {
    List<List<Job>> batches = new ArrayList<>();
    for (BatchRange r : report.pendingCuts()) {
      batches.add(rebuild(log, state, r).batch.jobs());
    }
    return List.copyOf(batches);
  }

  private static CutBatch rebuild(DiskLog log, QueueState state, BatchRange r)
      throws IOException, InterruptedException {
    List<Slot> slots = new ArrayList<>((int) r.count());
    try (LogReader in = log.reader(r.first())) {
      while (slots.size() < r.count()) {
        LogEntry e = in.next(Duration.ZERO);
        if (e == null) {
          throw new IOException("local log: pending batch " + r + " is not in the log");
        }
        slots.add(new Slot(state, e));
      }
    } catch (LogClosedException e) {
      throw new IOException("local log: pending batch " + r + " is not in the log", e);
    }
    CutBatch f = new CutBatch(r, slots, state.name(r));
    for (Slot s : slots) {
      s.batch = f;
    }
    f.unacked = slots.size();
    state.lock.lock();
    try {
      state.fixed.put(r.first(), f);
      state.inFlightPayloads += r.count();
      state.inFlightBytes += r.bytes();
    } finally {
      state.lock.unlock();
    }
    return f;
  }

  /**
   * Appends the payloads of the memory queue's spill files, each file deleted once durable.
   *
   * @return the payloads taken in
   */
  static int migrate(DiskLog log, DiskQueueOptions options, Path spillDir) throws Exception {
    int n =
        Spill.moveInto(
            spillDir,
            payloads -> {
              for (List<byte[]> chunk : chunks(log, payloads)) {
                log.append(chunk, options.writeTimeout());
              }
            });
    if (n > 0) {
      LOG.info("took {} payloads from spill files in {} into the local log", n, spillDir);
    }
    return n;
  }

  /** {@return the payloads in runs, each within one record of the log (at least one payload)} */
  private static List<List<byte[]>> chunks(DiskLog log, List<byte[]> payloads) {
    List<List<byte[]>> out = new ArrayList<>();
    int from = 0;
    long limit = log.maxRecordBytes();
    for (int i = 0; i < payloads.size(); i++) {
      List<byte[]> candidate = payloads.subList(from, i + 1);
      if (i > from && RecordFormat.payloadsRecordBytes(candidate) > limit) {
        out.add(payloads.subList(from, i));
        from = i;
      }
    }
    out.add(payloads.subList(from, payloads.size()));
    return out;
  }
}
