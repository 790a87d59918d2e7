package io.millrace.ingest.queue;

import java.util.List;
import java.util.Objects;

/**
 * A batch whose content and name were fixed by its {@link JobSource} before it is encoded and
 * uploaded ({@link JobSource#fix}): these jobs, in this order, under this name. The object key
 * derives from the name (and from the first job's admission time), never from the wall clock, so a
 * retry of the upload writes the same key.
 *
 * <p>When {@link #recoverable()} is true the source has recorded the batch durably before {@code
 * fix} returned: after a crash at any moment it hands the same jobs out again as this batch ({@link
 * JobSource#replayedBatches()}), fixed under the same name, until the batch is acknowledged with
 * {@link JobSource#ack(FixedBatch)}. When false the name is still stable for retries within this
 * process, but a crash forgets the batch (its jobs may come back in other batches, or not at all
 * for a volatile queue).
 *
 * @param name the batch's stable name: only characters safe in an S3 key ({@code [A-Za-z0-9_-]})
 * @param jobs the batch's jobs, at least one, in delivery order
 * @param recoverable whether a crash brings back this very batch under this name
 */
public record FixedBatch(String name, List<Job> jobs, boolean recoverable) {

  /** Checks the name and copies the jobs. */
  public FixedBatch {
    Objects.requireNonNull(name, "name");
    if (!name.matches("[A-Za-z0-9_-]{1,200}")) {
      throw new IllegalArgumentException("not a batch name: " + name);
    }
    jobs = List.copyOf(jobs);
    if (jobs.isEmpty()) {
      throw new IllegalArgumentException("a batch holds at least one job");
    }
  }

  /**
   * {@return the name a source without a durable batch record gives: {@code <first id>-<count>},
   * stable as long as the jobs keep their ids}
   *
   * @param jobs the batch's jobs, at least one
   */
  public static String nameOf(List<Job> jobs) {
    return jobs.getFirst().id() + "-" + jobs.size();
  }

  /** {@return the first job's admission time (epoch milliseconds): the key's date and hour} */
  public long firstAdmittedAtMillis() {
    return jobs.getFirst().admittedAtMillis();
  }

  /** {@return how many payloads the batch holds} */
  public int size() {
    return jobs.size();
  }

  @Override
  public String toString() {
    return "FixedBatch["
        + name
        + ", "
        + jobs.size()
        + " jobs"
        + (recoverable ? ", recorded" : "")
        + "]";
  }
}
