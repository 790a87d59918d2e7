package io.millrace.ingest.queue.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A spill file read back at start: its payloads, whether they were one formed batch (so they are
 * stored again as the same object, under the same key), and how many are not yet stored. The file
 * is deleted once all its payloads are stored, or once a later spill has taken over its leftovers.
 *
 * <p>Deletion is by identity: only the file that was read (same file key, size and modification
 * time), never another file that has taken its name since.
 */
final class SpillFile {
  private final Path path;
  private final boolean group;
  private final List<Spill.Line> lines;
  private final AtomicInteger remaining;

  private final Identity identity;

  /** What tells this file from another one under the same name. */
  private record Identity(Object fileKey, long size, FileTime modified) {
    static Identity of(Path p) throws IOException {
      BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
      return new Identity(a.fileKey(), a.size(), a.lastModifiedTime());
    }
  }

  private SpillFile(Path path, boolean group, Identity identity, List<Spill.Line> lines) {
    this.path = path;
    this.group = group;
    this.identity = identity;
    this.lines = List.copyOf(lines);
    this.remaining = new AtomicInteger(lines.size());
  }

  /**
   * {@return the file at {@code path}, read}
   *
   * @throws IOException if it cannot be read or holds a bad line
   */
  static SpillFile open(Path path, boolean group) throws IOException {
    Identity identity = Identity.of(path); // before reading: a later write changes it
    return new SpillFile(path, group, identity, Spill.read(path));
  }

  List<Spill.Line> lines() {
    return lines;
  }

  boolean group() {
    return group;
  }

  Path path() {
    return path;
  }

  /** Called once per payload when it is stored; the last one deletes the file. */
  void stored() {
    if (remaining.decrementAndGet() == 0) {
      delete();
    }
  }

  /** Deletes the file that was read; a file that took its name since is left alone. */
  void delete() {
    try {
      if (Objects.equals(Identity.of(path), identity)) {
        Files.deleteIfExists(path);
      }
    } catch (java.nio.file.NoSuchFileException e) {
      // gone already
    } catch (IOException e) {
      // left behind: replayed again next start; keys repeat, so the store is rewritten, not added
      // to
    }
  }
}
