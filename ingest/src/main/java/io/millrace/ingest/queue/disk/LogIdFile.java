package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;

/**
 * The {@code LOG_ID} file beside a log's segments: the log id, drawn once when the log folder is
 * created (8 characters of base 36) and kept, so a replay gives the same job ids and batch names
 * and a new log (a wiped folder) never reuses the keys of an old one. Written durably ({@link
 * DurableFiles}).
 *
 * <p>Stateless; called once per open, before the queue exists.
 */
final class LogIdFile {
  /** The file's name in the log folder. */
  static final String NAME = "LOG_ID";

  private LogIdFile() {}

  /**
   * {@return the folder's log id, drawn and written durably the first time}
   *
   * @throws IOException if the file cannot be read or written, or holds no log id
   */
  static String readOrCreate(Path dir) throws IOException {
    Path file = dir.resolve(NAME);
    if (Files.exists(file)) {
      String id = Files.readString(file, StandardCharsets.US_ASCII).trim();
      if (!id.matches("[a-z0-9]{1,16}")) {
        throw new IOException(file + " holds no log id: '" + id + "'");
      }
      return id;
    }
    String r = Long.toString(new SecureRandom().nextLong() >>> 1, 36);
    String id = (r + "00000000").substring(0, 8);
    DurableFiles.write(file, (id + "\n").getBytes(StandardCharsets.US_ASCII));
    return id;
  }
}
