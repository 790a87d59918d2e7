package io.millrace.ingest.queue.disk;

/**
 * A commit point: everything up to {@code end} of {@code segment} (and in the segments before it)
 * is forced to disk. Immutable; the writer publishes a new one after each successful fsync.
 *
 * @param segment the active segment
 * @param end its durable size
 * @param nextPosition the position the next payload will get
 * @param nextByte payload bytes appended so far
 */
record Committed(Segment segment, long end, long nextPosition, long nextByte) {}
