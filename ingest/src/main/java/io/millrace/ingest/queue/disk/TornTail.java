package io.millrace.ingest.queue.disk;

/**
 * What recovery cut off the end of the last segment: bytes of a write that never completed (a crash
 * mid-write). Only records whose append never returned can be among them, since an append returns
 * after its bytes are forced to disk and the next write starts after that.
 *
 * @param segment the file's name
 * @param offset where the first incomplete or unreadable record started; the file now ends here
 * @param droppedBytes how many bytes were cut off, up to the last non-zero byte of the file (zeros
 *     past it are preallocated space, not data)
 * @param reason what was wrong at that offset (short record, checksum mismatch, ...)
 */
public record TornTail(String segment, long offset, long droppedBytes, String reason) {}
