package io.millrace.ingest.queue.disk;

/**
 * A snapshot of the log's counters, for metrics and the admission budget.
 *
 * @param segments segment files
 * @param logBytes bytes in segment files (written and forced)
 * @param nextPosition the position the next append will get
 * @param appends appends made durable since open
 * @param fsyncs forces of segment data since open
 * @param fsyncNanos time spent in those forces
 * @param writeErrors batches of writes that failed (I/O error, disk full) since open
 * @param unstoredPayloads payloads appended and not yet marked stored
 * @param unstoredBytes their payload bytes
 * @param oldestUnstoredAgeMillis age of the oldest unstored payload, to within a second; 0 when
 *     there is none
 * @param lastError what the latest write failure was, while no write has succeeded since; else null
 */
public record LogStats(
    int segments,
    long logBytes,
    long nextPosition,
    long appends,
    long fsyncs,
    long fsyncNanos,
    long writeErrors,
    long unstoredPayloads,
    long unstoredBytes,
    long oldestUnstoredAgeMillis,
    String lastError) {

  /** {@return appends per fsync since open (group commit at work), 0 before the first} */
  public double appendsPerFsync() {
    return fsyncs == 0 ? 0 : (double) appends / fsyncs;
  }
}
