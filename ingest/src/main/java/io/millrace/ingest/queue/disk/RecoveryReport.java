package io.millrace.ingest.queue.disk;

import java.util.List;
import java.util.Optional;

/**
 * What {@link DiskLog#open} found: what was scanned, what was cut off, and what is left to store.
 *
 * <p>A queue replays in two parts: each of {@link #pendingCuts()} (batches fixed before a crash,
 * not yet stored: rebuild each from its range and store it under the same key), then every payload
 * from {@link #firstUncutPosition()} on (not yet in any batch).
 *
 * @param segments segment files in the log after recovery
 * @param records complete records read
 * @param payloads payloads in those records
 * @param nextPosition the position the next append will get
 * @param firstUncutPosition the first payload not in any recorded batch
 * @param pendingCuts recorded batches not marked stored, in log order
 * @param unstoredPayloads payloads not yet stored (in pending cuts or after the last cut)
 * @param unstoredBytes their bytes
 * @param tornTail what was cut off the end of the last segment, if anything
 * @param removedFiles segment files removed because they held no complete header: a spare never
 *     rolled onto (see {@link DiskLogOptions#preallocate}), or one whose header was never forced
 */
public record RecoveryReport(
    int segments,
    long records,
    long payloads,
    long nextPosition,
    long firstUncutPosition,
    List<BatchRange> pendingCuts,
    long unstoredPayloads,
    long unstoredBytes,
    Optional<TornTail> tornTail,
    List<String> removedFiles) {

  /** Copies the lists. */
  public RecoveryReport {
    pendingCuts = List.copyOf(pendingCuts);
    removedFiles = List.copyOf(removedFiles);
  }

  /** {@return one line for the log at start-up} */
  public String summary() {
    StringBuilder s = new StringBuilder();
    s.append(segments).append(" segments, ").append(records).append(" records, ");
    s.append(unstoredPayloads)
        .append(" payloads (")
        .append(unstoredBytes)
        .append(" bytes) unstored");
    s.append(", ").append(pendingCuts.size()).append(" batches to rebuild");
    s.append(", payloads from position ").append(firstUncutPosition).append(" not yet batched");
    tornTail.ifPresent(
        t ->
            s.append("; torn tail cut off: ")
                .append(t.droppedBytes())
                .append(" bytes at ")
                .append(t.segment())
                .append(':')
                .append(t.offset())
                .append(" (")
                .append(t.reason())
                .append("), only writes never acknowledged"));
    if (!removedFiles.isEmpty()) {
      s.append("; removed incomplete segment files ").append(removedFiles);
    }
    return s.toString();
  }
}
