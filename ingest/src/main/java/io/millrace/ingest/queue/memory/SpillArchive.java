package io.millrace.ingest.queue.memory;

import io.millrace.ingest.queue.Handover;
import io.millrace.ingest.queue.Job;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-memory queue's way across a restart: at start, what the last run spilled is taken in again
 * (before anything new is admitted); at shutdown, what is not stored is spilled. Formed batches
 * stay whole both ways, so they are stored under the same key.
 *
 * <p>Confined to start-up ({@link #replayInto}) and shutdown ({@link #handOver}); not thread-safe.
 */
final class SpillArchive {
  private static final Logger LOG = LoggerFactory.getLogger(SpillArchive.class);

  private final Path dir;
  private final String runId;
  private List<SpillFile> replayedFiles = List.of();
  private List<List<Job>> replayedBatches = List.of();
  private int replayedPayloads;

  SpillArchive(Path dir, String runId) {
    this.dir = dir;
    this.runId = runId;
  }

  /**
   * Reads every spill file and hands its payloads to the queue: a formed batch as a batch (in
   * batched mode), the rest as waiting jobs. Empty files are deleted.
   *
   * @throws IOException if a file cannot be read or holds a bad line (the start fails)
   */
  void replayInto(MemoryJobQueue queue, boolean keepBatches) throws IOException {
    List<SpillFile> files = Spill.load(dir);
    List<List<Job>> batches = new ArrayList<>();
    int n = 0;
    for (SpillFile f : files) {
      if (f.lines().isEmpty()) {
        f.delete();
        continue;
      }
      boolean asBatch = f.group() && keepBatches;
      List<Job> jobs = queue.takeIn(f, asBatch);
      if (asBatch) {
        batches.add(jobs);
      }
      n += jobs.size();
    }
    replayedFiles = files;
    replayedBatches = List.copyOf(batches);
    replayedPayloads = n;
    if (n > 0) {
      LOG.info("replaying {} payloads from {} spill files in {}", n, files.size(), dir);
    }
  }

  List<List<Job>> replayedBatches() {
    return replayedBatches;
  }

  int replayedPayloads() {
    return replayedPayloads;
  }

  /**
   * Writes what is not stored to spill files: each formed batch as a group file (replayed as the
   * same object), the rest as one file of loose payloads; then deletes the files this start
   * replayed (their leftovers are in the new files). A failure to write is logged; nothing else can
   * be done with the payloads then.
   *
   * @param unacknowledged every job of the queue not stored
   * @param formedBatches batches formed and not stored, among them
   */
  Handover handOver(List<Job> unacknowledged, List<List<Job>> formedBatches) {
    Set<Job> inBatches = Collections.newSetFromMap(new IdentityHashMap<>());
    int n = 0;
    for (List<Job> b : formedBatches) {
      inBatches.addAll(b);
      n += b.size();
    }
    List<Job> loose = new ArrayList<>();
    for (Job j : unacknowledged) {
      if (!inBatches.contains(j)) {
        loose.add(j);
      }
    }
    n += loose.size();
    if (n == 0) {
      return new Handover.Spilled(0, dir);
    }
    try {
      int spilled = Spill.write(dir, runId, formedBatches, loose);
      for (SpillFile f : replayedFiles) {
        f.delete();
      }
      return new Handover.Spilled(spilled, dir);
    } catch (IOException e) {
      LOG.error("could not spill {} payloads to {}: {}", n, dir, e.toString());
      return new Handover.Spilled(0, dir);
    }
  }
}
