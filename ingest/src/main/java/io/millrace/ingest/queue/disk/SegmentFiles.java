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
