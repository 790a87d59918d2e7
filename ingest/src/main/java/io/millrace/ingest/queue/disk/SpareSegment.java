package io.millrace.ingest.queue.disk;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The next segment file, made ready off the writer's thread: created, filled with zeros to its full
 * size, and forced with its directory entry, so that a roll-over onto it writes only the header and
 * records (no file creation, no fsync of metadata) and appends into it overwrite allocated blocks,
 * which {@code fdatasync} forces without a journal commit.
 *
 * <p>Until the writer takes it, a spare holds no header (zeros): recovery deletes a trailing file
 * without a valid header, so a spare left by a crash is never mistaken for a segment.
 *
 * <p>Thread ownership: {@link #prepare}, {@link #take} and {@link #discard} are called by the
 * writer thread only; one background thread at a time fills the file.
 */
final class SpareSegment {
  private final ChannelOpener opener;
  private final Path dir;
  private final long bytes;

  // writer thread only:
  private long attempted = -1; // the segment number last prepared (one attempt each)
  private Thread filling;
  private long number = -1;
  private Path path;

  /** The pause after each forced chunk of zeros: a 64 MiB spare takes 64 chunks, ~0.2 s + I/O. */
  private static final long PAUSE_NANOS = 3_000_000;

  private volatile boolean cancelled; // set by the writer: stop filling, remove the file

  // written by the filling thread before it ends (null if it failed), read by the writer after
  // join:
  private FileChannel ready;

  SpareSegment(ChannelOpener opener, Path dir, long bytes) {
    this.opener = opener;
    this.dir = dir;
    this.bytes = bytes;
  }

  /**
   * Starts preparing segment {@code n} in the background, unless one is held or being prepared, or
   * {@code n} was tried already, or the disk has less than twice a segment free.
   */
  void prepare(long n) {
    if (filling != null || ready != null || attempted == n) {
      return;
    }
    attempted = n;
    try {
      if (Files.getFileStore(dir).getUsableSpace() < 2 * bytes) {
        return; // keep the space for appends; the roll-over creates the file inline
      }
    } catch (IOException e) {
      return;
    }
    number = n;
    cancelled = false;
    path = dir.resolve(RecordFormat.segmentName(n));
    Path target = path;
    filling =
        Thread.ofPlatform()
            .daemon()
            .name("millrace-log-spare")
            .start(
                () -> {
                  try {
                    ready =
                        SegmentFiles.preallocate(
                            opener, target, bytes, PAUSE_NANOS, () -> cancelled);
                  } catch (IOException | RuntimeException e) {
                    // the partial file is removed; the roll-over creates the segment inline
                  }
                });
  }

  /**
   * {@return the prepared file of segment {@code n}, open for reading and writing, or null if there
   * is none (not prepared, preparing it failed, or not finished: then it is cancelled, which takes
   * at most one chunk, and its file removed): then the caller creates the segment itself}.
   */
  FileChannel take(long n) {
    cancelled = true; // a spare not ready yet is given up: waiting would stall the writer
    settle();
    FileChannel ch = ready;
    if (ch == null) {
      return null;
    }
    if (number != n) { // not expected: the writer takes spares in order
      discard();
      return null;
    }
    ready = null;
    number = -1;
    return ch;
  }

  /** Waits for a running preparation, closes and deletes an untaken spare (at close). */
  void discard() {
    cancelled = true;
    settle();
    if (ready != null) {
      SegmentFiles.closeQuietly(ready, new IOException("closing the spare segment"));
      ready = null;
      try {
        Files.deleteIfExists(path);
        SegmentFiles.syncDirectory(dir);
      } catch (IOException ignored) {
        // a leftover spare has no header: the next open deletes it
      }
    }
    number = -1;
  }

  private void settle() {
    Thread t = filling;
    if (t == null) {
      return;
    }
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        t.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    filling = null;
  }
}
