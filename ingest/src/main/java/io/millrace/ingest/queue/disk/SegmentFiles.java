package io.millrace.ingest.queue.disk;

import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/** Creating segment files durably. */
final class SegmentFiles {
  private SegmentFiles() {}

  /**
   * Creates (or empties) a segment's file, writes its header, and forces the file and the directory
   * entry, so the segment survives a crash once records in it are forced.
   *
   * @return the file open for reading and writing
   */
  static FileChannel create(ChannelOpener opener, Segment segment) throws IOException {
    FileChannel channel = opener.open(segment.path, CREATE, TRUNCATE_EXISTING, READ, WRITE);
    try {
      writeFully(channel, RecordFormat.segmentHeader(segment.basePosition, segment.baseByte), 0);
      channel.force(true);
      syncDirectory(segment.path.getParent());
      return channel;
    } catch (IOException | RuntimeException e) {
      closeQuietly(channel, e);
      try {
        Files.deleteIfExists(segment.path);
      } catch (IOException again) {
        e.addSuppressed(again);
      }
      throw e;
    }
  }

  /** How much of a spare is written and forced at a time. */
  static final int SPARE_CHUNK_BYTES = 1 << 20;

  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(SPARE_CHUNK_BYTES);

  /**
   * Creates (or empties) a spare segment file of {@code bytes} zeros, leaving it without a header
   * (the writer writes the header when it rolls over onto it), then forces it and the directory
   * entry. The zeros go in chunks of {@link #SPARE_CHUNK_BYTES}, each forced before the next and
   * followed by {@code pauseNanos}, so the flushes interleave with the writer's fsyncs instead of
   * queueing one large flush ahead of them. On failure or once {@code cancelled} answers true
   * (checked between chunks) the partial file is removed.
   *
   * @return the file open for reading and writing, or null if cancelled
   */
  static FileChannel preallocate(
      ChannelOpener opener,
      Path path,
      long bytes,
      long pauseNanos,
      java.util.function.BooleanSupplier cancelled)
      throws IOException {
    FileChannel channel = opener.open(path, CREATE, TRUNCATE_EXISTING, READ, WRITE);
    try {
      for (long at = 0; at < bytes; ) {
        if (cancelled.getAsBoolean()) {
          throw new java.util.concurrent.CancellationException();
        }
        ByteBuffer z = ZEROS.duplicate();
        int n = (int) Math.min(z.capacity(), bytes - at);
        z.limit(n);
        writeFully(channel, z, at);
        at += n;
        channel.force(false);
        if (pauseNanos > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(pauseNanos);
        }
      }
      channel.force(true);
      syncDirectory(path.getParent());
      return channel;
    } catch (IOException | RuntimeException e) {
      closeQuietly(channel, e);
      try {
        Files.deleteIfExists(path);
      } catch (IOException again) {
        e.addSuppressed(again);
      }
      if (e instanceof java.util.concurrent.CancellationException) {
        return null;
      }
      throw e;
    }
  }

  /**
   * {@return the end of the last non-zero byte in {@code [from, to)} of the file, or {@code from}
   * if every byte there is zero} A segment's records end where the rest of the file is zeros: the
   * preallocated space not yet written.
   */
  static long lastNonZeroEnd(FileChannel channel, long from, long to) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(1 << 16);
    long end = from;
    for (long at = from; at < to; ) {
      b.clear().limit((int) Math.min(b.capacity(), to - at));
      int n = channel.read(b, at);
      if (n < 0) {
        break;
      }
      for (int i = n - 1; i >= 0; i--) {
        if (b.get(i) != 0) {
          end = at + i + 1;
          break;
        }
      }
      at += n;
    }
    return end;
  }

  static void writeFully(FileChannel channel, ByteBuffer bytes, long at) throws IOException {
    while (bytes.hasRemaining()) {
      at += channel.write(bytes, at);
    }
  }

  /** Forces a directory's entries (new and removed files) to disk. */
  static void syncDirectory(Path dir) throws IOException {
    try (FileChannel d = FileChannel.open(dir, READ)) {
      d.force(true);
    }
  }

  static void closeQuietly(FileChannel channel, Throwable failure) {
    try {
      channel.close();
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
  }
}
