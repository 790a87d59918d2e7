package io.millrace.ingest.queue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a whole file durably: the content goes to {@code <name>.tmp} beside it, which is forced,
 * renamed atomically over the file, and then the folder is forced where the file system allows it.
 * After a crash at any moment the file is as it was before (or absent) or holds all of the new
 * content, never a part; a {@code .tmp} file may be left behind.
 *
 * <p>Stateless and thread-safe; two writers of the same file at once are the caller's to avoid.
 */
public final class DurableFiles {
  private DurableFiles() {}

  /**
   * Replaces {@code file}'s content with {@code content}, durably.
   *
   * @param file the file to write, in a folder that exists
   * @param content the whole new content
   * @throws IOException if the temporary file cannot be written and forced, or not renamed
   */
  public static void write(Path file, byte[] content) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.wrap(content);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel d =
        FileChannel.open(file.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // some file systems cannot force a folder; the rename is then as durable as they make it
    }
  }
}
