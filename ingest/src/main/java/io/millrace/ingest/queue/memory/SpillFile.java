package io.millrace.ingest.queue.memory;

import io.millrace.ingest.queue.Job;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A spill file read back at start: its jobs, whether they were one formed batch (so they are stored
 * again as the same object, under the same key), and how many are not yet stored. The file is
 * deleted once all its jobs are stored, or once a later spill has taken over its leftovers.
 */
public final class SpillFile {
  private final Path path;
  private final boolean group;
  private final AtomicInteger remaining = new AtomicInteger();
  private volatile List<Job> jobs = List.of();

  SpillFile(Path path, boolean group) {
    this.path = path;
    this.group = group;
  }

  void jobs(List<Job> jobs) {
    this.jobs = jobs;
    remaining.set(jobs.size());
  }

  public List<Job> jobs() {
    return jobs;
  }

  public boolean group() {
    return group;
  }

  Path path() {
    return path;
  }

  /** Called once per job when it is stored; the last one deletes the file. */
  public void stored() {
    if (remaining.decrementAndGet() == 0) {
      delete();
    }
  }

  public void delete() {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      // left behind: replayed again next start; keys repeat, so the store is rewritten, not added
      // to
    }
  }
}
