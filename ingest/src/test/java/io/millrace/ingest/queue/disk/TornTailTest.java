package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.LogFixtures.WAIT;
import static io.millrace.ingest.queue.disk.LogFixtures.payloads;
import static io.millrace.ingest.queue.disk.LogFixtures.readAll;
import static io.millrace.ingest.queue.disk.LogFixtures.segmentFiles;
import static io.millrace.ingest.queue.disk.LogFixtures.text;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash mid-write, simulated on the files: the last segment cut at random byte offsets, or its
 * tail overwritten with garbage or zeros. Recovery keeps every complete record, reports what it cut
 * off, and the log takes appends again. Damage anywhere else is refused.
 */
@Timeout(120)
class TornTailTest {
  private static final int REQUESTS = 90;
  @TempDir Path work;
  private Path pristine;
  private final List<Long> recordEnds = new ArrayList<>(); // end offset of each PAYLOADS record

  @BeforeEach
  void writeALog() throws Exception {
    pristine = work.resolve("pristine");
    try (DiskLog log = DiskLog.open(pristine, LogFixtures.small(32 << 10))) {
      for (int r = 0; r < REQUESTS; r++) {
        log.append(payloads(r, 10), WAIT);
      }
    }
    Path last = lastSegment(pristine);
    try (FileChannel ch = FileChannel.open(last, READ)) {
      RecordScanner s =
          new RecordScanner(ch, RecordFormat.SEGMENT_HEADER_BYTES, ch.size(), 1 << 20);
      while (s.next() == RecordScanner.Step.RECORD) {
        recordEnds.add(s.offset());
      }
    }
    assertThat(segmentFiles(pristine).size()).isGreaterThan(2);
  }

  @Test
  void truncationAtRandomOffsetsKeepsEveryCompleteRecordAndReportsTheRest() throws Exception {
    long seed = System.nanoTime();
    System.out.println("torn tail truncation seed: " + seed);
    Random random = new Random(seed);
    long size = Files.size(lastSegment(pristine));
    for (int trial = 0; trial < 40; trial++) {
      long cut = RecordFormat.SEGMENT_HEADER_BYTES + random.nextLong(size - 32);
      Path copy = copy("cut" + trial);
      try (FileChannel ch = FileChannel.open(lastSegment(copy), WRITE)) {
        ch.truncate(cut);
      }
      checkRecovery(copy, cut, "seed " + seed + " trial " + trial + " cut at " + cut);
    }
  }

  @Test
  void garbageOrZerosOverTheTailAreCutAtTheFirstBadRecord() throws Exception {
    long seed = System.nanoTime();
    System.out.println("torn tail garbage seed: " + seed);
    Random random = new Random(seed);
    long size = Files.size(lastSegment(pristine));
    for (int trial = 0; trial < 20; trial++) {
      long from = RecordFormat.SEGMENT_HEADER_BYTES + random.nextLong(size - 32);
      byte[] junk = new byte[(int) (size - from)];
      if (trial % 2 == 0) {
        random.nextBytes(junk);
      }
      Path copy = copy("junk" + trial);
      try (FileChannel ch = FileChannel.open(lastSegment(copy), WRITE)) {
        ch.write(ByteBuffer.wrap(junk), from);
      }
      checkRecovery(copy, from, "seed " + seed + " trial " + trial + " junk from " + from);
    }
  }

  @Test
  void zerosPastTheLastRecordAreTheEndOfTheLogNotATornTail() throws Exception {
    Path copy = copy("zeros");
    long size = Files.size(lastSegment(copy));
    try (FileChannel ch = FileChannel.open(lastSegment(copy), WRITE)) {
      ch.write(ByteBuffer.allocate(4096), size); // as a preallocated segment's unwritten rest
    }
    checkRecovery(copy, size, "zeros");
    try (DiskLog log = DiskLog.open(copy, LogFixtures.small(32 << 10))) {
      assertThat(log.recovery().tornTail()).isEmpty();
    }
  }

  @Test
  void aCrashWithASpareAndAPreallocatedActiveSegmentLosesNothingAndReportsNothing()
      throws Exception {
    Path live = work.resolve("live");
    Path copy = work.resolve("crashed");
    int requests = 0;
    try (DiskLog log = DiskLog.open(live, LogFixtures.small(32 << 10))) {
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (true) { // until the active segment is a preallocated one and the next spare is ready
        log.append(payloads(requests++, 10), WAIT);
        List<Path> segments = segmentFiles(live);
        Path active = segments.get(segments.size() - 1);
        List<Path> spares = LogFixtures.spareFiles(live);
        if (segments.size() > 1
            && Files.size(active) == 32 << 10
            && spares.size() == 1
            && Files.size(spares.get(0)) == 32 << 10) {
          break;
        }
        assertThat(System.nanoTime()).as("a spare within 30 s").isLessThan(deadline);
      }
      Files.createDirectories(copy); // the files as a crash (kill -9, power loss) leaves them
      try (Stream<Path> files = Files.list(live)) {
        for (Path p : files.filter(p -> p.toString().endsWith(".log")).toList()) {
          Files.copy(p, copy.resolve(p.getFileName()));
        }
      }
    }
    Path spare = LogFixtures.spareFiles(copy).get(0);
    try (DiskLog log = DiskLog.open(copy, LogFixtures.small(32 << 10))) {
      RecoveryReport report = log.recovery();
      assertThat(report.tornTail()).isEmpty();
      assertThat(report.removedFiles()).containsExactly(spare.getFileName().toString());
      assertThat(report.nextPosition()).isEqualTo(requests * 10L);
      List<LogEntry> all = readAll(log, 0);
      assertThat(all).hasSize(requests * 10);
      for (int i = 0; i < all.size(); i++) {
        assertThat(text(all.get(i))).contains("{\"request\":" + i / 10 + ",\"i\":" + i % 10 + ",");
      }
      assertThat(log.append(payloads(999, 2), WAIT).first()).isEqualTo(requests * 10L);
    }
    assertThat(LogFixtures.spareFiles(copy)).as("a clean close leaves no spare").isEmpty();
    Path last = lastSegment(copy);
    assertThat(Files.size(last))
        .as("a clean close cuts the active segment back to its records")
        .isEqualTo(LogFixtures.recordsEnd(last));
    try (DiskLog log = DiskLog.open(copy, LogFixtures.small(32 << 10))) {
      assertThat(log.recovery().tornTail()).isEmpty();
      assertThat(readAll(log, 0)).hasSize(requests * 10 + 2);
    }
  }

  @Test
  void aBadChecksumInTheLastSegmentIsCutThereAndReported() throws Exception {
    Path copy = copy("flip");
    long at = recordEnds.get(recordEnds.size() / 2) + 20; // inside a record's body
    flip(lastSegment(copy), at);
    long start = recordEnds.get(recordEnds.size() / 2);
    try (DiskLog log = DiskLog.open(copy, LogFixtures.small(32 << 10))) {
      TornTail t = log.recovery().tornTail().orElseThrow();
      assertThat(t.offset()).isEqualTo(start);
      assertThat(t.reason()).isEqualTo("checksum mismatch");
      assertThat(log.recovery().summary()).contains("torn tail cut off");
    }
  }

  @Test
  void damageInAnEarlierSegmentIsRefusedNamingTheFileAndOffset() throws Exception {
    Path copy = copy("early");
    Path first = segmentFiles(copy).get(0);
    flip(first, 200);
    assertThatThrownBy(() -> DiskLog.open(copy, LogFixtures.small(32 << 10)))
        .isInstanceOf(LogCorruptedException.class)
        .hasMessageContaining(first.getFileName().toString())
        .hasMessageContaining("checksum mismatch");
  }

  @Test
  void aMissingSegmentIsRefused() throws Exception {
    Path copy = copy("gap");
    List<Path> files = segmentFiles(copy);
    Files.delete(files.get(1));
    assertThat(files.size()).isGreaterThan(2);
    assertThatThrownBy(() -> DiskLog.open(copy, LogFixtures.small(32 << 10)))
        .isInstanceOf(LogCorruptedException.class)
        .hasMessageContaining("missing");
  }

  /**
   * Opens a damaged copy: records ending at or before {@code keptUpTo} survive, no other; a torn
   * tail is reported up to the last non-zero byte (zeros after the last record are the end).
   */
  private void checkRecovery(Path copy, long keptUpTo, String what) throws Exception {
    long sizeBefore;
    try (FileChannel ch = FileChannel.open(lastSegment(copy), READ)) {
      sizeBefore = SegmentFiles.lastNonZeroEnd(ch, 0, ch.size());
    }
    int sealedPayloads = (int) (readPristineCount() - recordEnds.size() * 10L);
    long kept = recordEnds.stream().filter(e -> e <= keptUpTo).count();
    long lastGood =
        recordEnds.stream()
            .filter(e -> e <= keptUpTo)
            .reduce((a, b) -> b)
            .orElse((long) RecordFormat.SEGMENT_HEADER_BYTES);
    try (DiskLog log = DiskLog.open(copy, LogFixtures.small(32 << 10))) {
      RecoveryReport report = log.recovery();
      if (lastGood == sizeBefore) {
        assertThat(report.tornTail()).as(what).isEmpty();
      } else {
        TornTail t = report.tornTail().orElseThrow(() -> new AssertionError(what));
        assertThat(t.offset()).as(what).isEqualTo(lastGood);
        assertThat(t.droppedBytes()).as(what).isEqualTo(sizeBefore - lastGood);
      }
      long payloadsKept = sealedPayloads + kept * 10;
      assertThat(report.nextPosition()).as(what).isEqualTo(payloadsKept);
      List<LogEntry> all = readAll(log, 0);
      assertThat(all).as(what).hasSize((int) payloadsKept);
      for (int i = 0; i < all.size(); i++) {
        assertThat(text(all.get(i))).contains("{\"request\":" + i / 10 + ",\"i\":" + i % 10 + ",");
      }
      assertThat(log.append(payloads(999, 2), WAIT).first()).as(what).isEqualTo(payloadsKept);
    }
    try (DiskLog log = DiskLog.open(copy, LogFixtures.small(32 << 10))) {
      assertThat(log.recovery().tornTail()).as(what + ", reopened").isEmpty();
      assertThat(log.recovery().nextPosition()).isEqualTo(sealedPayloads + kept * 10 + 2);
    }
  }

  private long readPristineCount() {
    return REQUESTS * 10L;
  }

  private Path copy(String name) throws IOException {
    Path to = work.resolve(name);
    Files.createDirectories(to);
    try (Stream<Path> files = Files.list(pristine)) {
      for (Path p : files.filter(p -> p.toString().endsWith(".log")).toList()) {
        Files.copy(p, to.resolve(p.getFileName()));
      }
    }
    return to;
  }

  private static Path lastSegment(Path dir) throws IOException {
    List<Path> files = segmentFiles(dir);
    return files.get(files.size() - 1);
  }

  private static void flip(Path file, long at) throws IOException {
    try (FileChannel ch = FileChannel.open(file, READ, WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(1);
      ch.read(b, at);
      b.put(0, (byte) (b.get(0) ^ 0x5A));
      ch.write(b.rewind(), at);
    }
  }
}
