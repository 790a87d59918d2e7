package io.millrace.ingest.queue.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A spill file read back at start: its payloads, whether they were one formed batch (so they are
 * stored again as the same object, under the same key), and how many are not yet stored. The file
 * is deleted once all its payloads are stored, or once a later spill has taken over its leftovers.
 */
final class SpillFile {
  private final Path path;
  private final boolean group;
  private final List<Spill.Line> lines;
  private final AtomicInteger remaining;

  SpillFile(Path path, boolean group, List<Spill.Line> lines) {
    this.path = path;
    this.group = group;
    this.lines = List.copyOf(lines);
    this.remaining = new AtomicInteger(lines.size());
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

  void delete() {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      // left behind: replayed again next start; keys repeat, so the store is rewritten, not added
      // to
    }
  }
}
