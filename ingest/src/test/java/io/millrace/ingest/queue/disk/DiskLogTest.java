package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.LogFixtures.WAIT;
import static io.millrace.ingest.queue.disk.LogFixtures.payloads;
import static io.millrace.ingest.queue.disk.LogFixtures.readAll;
import static io.millrace.ingest.queue.disk.LogFixtures.segmentFiles;
import static io.millrace.ingest.queue.disk.LogFixtures.small;
import static io.millrace.ingest.queue.disk.LogFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class DiskLogTest {
  @TempDir Path dir;

  @Test
  void appendsGetDensePositionsAndReadBackInOrder() throws Exception {
    try (DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults())) {
      assertThat(log.append(payloads(0, 3), WAIT)).isEqualTo(new Positions(0, 3));
      assertThat(log.append(payloads(1, 2), WAIT)).isEqualTo(new Positions(3, 2));
      List<LogEntry> all = readAll(log, 0);
      assertThat(all).extracting(LogEntry::position).containsExactly(0L, 1L, 2L, 3L, 4L);
      assertThat(text(all.get(3))).contains("\"request\":1,\"i\":0");
      long len = payloads(0, 1).get(0).length;
      assertThat(all.get(2).byteOffset()).isEqualTo(2 * len);
      assertThat(readAll(log, 2)).extracting(LogEntry::position).containsExactly(2L, 3L, 4L);
      assertThat(log.unstoredPayloads()).isEqualTo(5);
      assertThat(log.unstoredBytes()).isEqualTo(5 * len);
    }
  }

  @Test
  void reopenAfterCloseKeepsEveryRecordAndContinuesThePositions() throws Exception {
    try (DiskLog log = DiskLog.open(dir, small(8192))) {
      for (int r = 0; r < 40; r++) {
        log.append(payloads(r, 10), WAIT);
      }
    }
    try (DiskLog log = DiskLog.open(dir, small(8192))) {
      RecoveryReport report = log.recovery();
      assertThat(report.tornTail()).isEmpty();
      assertThat(report.records()).isEqualTo(40);
      assertThat(report.nextPosition()).isEqualTo(400);
      assertThat(report.unstoredPayloads()).isEqualTo(400);
      assertThat(report.segments()).isGreaterThan(1);
      assertThat(log.append(payloads(40, 1), WAIT).first()).isEqualTo(400);
      List<LogEntry> all = readAll(log, 0);
      assertThat(all).hasSize(401);
      for (int i = 0; i < all.size(); i++) {
        assertThat(all.get(i).position()).isEqualTo(i);
        assertThat(text(all.get(i))).contains("\"request\":" + i / 10 + ",\"i\":" + i % 10 + ",");
      }
    }
  }

  @Test
  void segmentsRollOverAndAreDeletedOnlyWhenEveryPayloadInThemIsStored() throws Exception {
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      for (int r = 0; r < 30; r++) {
        log.append(payloads(r, 5), WAIT); // ~650 bytes each: 6 per segment
      }
      int before = segmentFiles(dir).size();
      assertThat(before).isGreaterThanOrEqualTo(5);
      assertThat(log.stats().segments()).isEqualTo(before);
      List<LogEntry> all = readAll(log, 0);
      List<BatchRange> batches = new ArrayList<>();
      for (int i = 0; i < all.size(); i += 25) {
        batches.add(log.cut(all.get(i), all.get(Math.min(i + 24, all.size() - 1)), WAIT));
      }
      // store every batch but the first: out of order, nothing below the watermark moves
      for (int b = batches.size() - 1; b >= 1; b--) {
        log.markStored(batches.get(b), WAIT);
      }
      assertThat(segmentFiles(dir)).hasSize(before);
      assertThat(log.unstoredPayloads()).isEqualTo(25);
      assertThat(log.unstoredBytes()).isEqualTo(batches.get(0).bytes());
      log.markStored(batches.get(0), WAIT);
      assertThat(log.unstoredPayloads()).isZero();
      assertThat(log.unstoredBytes()).isZero();
      assertThat(segmentFiles(dir)).hasSize(1); // only the active segment stays
      assertThat(log.stats().segments()).isEqualTo(1);
      assertThatThrownBy(() -> log.reader(0)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void keyedAndUnkeyedRecordsReadBackAlikeAndTheKeysAreRecovered() throws Exception {
    List<LogEntry> before;
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      log.append(payloads(0, 3), "a", WAIT);
      log.append(payloads(1, 2), WAIT);
      for (int r = 2; r < 12; r++) {
        log.append(payloads(r, 5), "k\u00e9" + r, WAIT); // rolls over: keys in several segments
      }
      before = readAll(log, 0);
    }
    assertThat(before).hasSize(55);
    for (int i = 1; i < before.size(); i++) {
      assertThat(before.get(i).position()).isEqualTo(i);
      assertThat(before.get(i).byteOffset()).isEqualTo(before.get(i - 1).endByte());
    }
    assertThat(segmentFiles(dir).size()).isGreaterThan(1);
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      List<Recovery.KeyedAppend> keys = log.recoveredKeys();
      assertThat(keys)
          .extracting(Recovery.KeyedAppend::key)
          .hasSize(11)
          .startsWith("a", "k\u00e92");
      assertThat(keys.get(0).payloads()).isEqualTo(3);
      assertThat(keys.get(0).appendedAtMillis()).isEqualTo(before.get(0).appendedAtMillis());
      assertThat(keys.get(1).payloads()).isEqualTo(5);
      List<LogEntry> after = readAll(log, 0);
      assertThat(after)
          .extracting(LogFixtures::text)
          .isEqualTo(before.stream().map(LogFixtures::text).toList());
      assertThat(log.append(payloads(99, 1), "z", WAIT)).isEqualTo(new Positions(55, 1));
      assertThat(readAll(log, 55).getFirst().byteOffset()).isEqualTo(before.getLast().endByte());
    }
  }

  @Test
  void theChecksumCoversTheKey() throws Exception {
    try (DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults())) {
      log.append(payloads(0, 2), WAIT);
      log.append(payloads(1, 2), "the-key", WAIT);
    }
    Path segment = segmentFiles(dir).getFirst();
    try (java.nio.channels.FileChannel ch =
        java.nio.channels.FileChannel.open(
            segment,
            java.nio.file.StandardOpenOption.WRITE,
            java.nio.file.StandardOpenOption.READ)) {
      long at = ch.size() - 4; // inside the key ("the-key" then its u16 length)
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
      ch.read(b, at);
      b.put(0, (byte) (b.get(0) ^ 1)).rewind();
      ch.write(b, at);
    }
    try (DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults())) {
      assertThat(log.recovery().tornTail())
          .hasValueSatisfying(t -> assertThat(t.reason()).isEqualTo("checksum mismatch"));
      assertThat(log.recoveredKeys()).isEmpty();
      assertThat(readAll(log, 0)).hasSize(2);
    }
  }

  @Test
  void storedSegmentsAreKeptForTheRetentionThenDeleted() throws Exception {
    AtomicLong now = new AtomicLong(System.currentTimeMillis());
    InstantSource clock = () -> Instant.ofEpochMilli(now.get());
    try (DiskLog log = DiskLog.open(dir, small(4096).withClock(clock))) {
      log.retainStored(60_000);
      for (int r = 0; r < 30; r++) {
        log.append(payloads(r, 5), "k" + r, WAIT);
      }
      int files = segmentFiles(dir).size();
      assertThat(files).isGreaterThanOrEqualTo(5);
      List<LogEntry> all = readAll(log, 0);
      log.markStored(log.cut(all.getFirst(), all.getLast(), WAIT), WAIT);
      assertThat(log.unstoredPayloads()).isZero();
      assertThat(segmentFiles(dir)).as("kept: within the retention").hasSize(files);
      assertThat(log.stats().segments()).isEqualTo(1);
      now.addAndGet(65_000); // past the retention by the files' real modification times too
      log.append(payloads(30, 1), WAIT);
      LogEntry last = readAll(log, all.size()).getFirst();
      log.markStored(log.cut(last, last, WAIT), WAIT);
      assertThat(segmentFiles(dir)).as("deleted once old enough").hasSize(1);
    }
  }

  @Test
  void storedSegmentsBeforeTheFirstKeyedOneAreDeletedAtOnceWhateverTheRetention() throws Exception {
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      log.retainStored(60_000);
      for (int r = 0; r < 30; r++) {
        log.append(payloads(r, 5), WAIT);
      }
      List<LogEntry> all = readAll(log, 0);
      log.markStored(log.cut(all.getFirst(), all.getLast(), WAIT), WAIT);
      assertThat(segmentFiles(dir)).as("no key in them: gone, the active one stays").hasSize(1);

      for (int r = 30; r < 60; r++) {
        log.append(payloads(r, 5), r == 45 ? "k45" : null, WAIT);
      }
      int files = segmentFiles(dir).size();
      assertThat(files).isGreaterThanOrEqualTo(5);
      List<LogEntry> more = readAll(log, all.size());
      log.markStored(log.cut(more.getFirst(), more.getLast(), WAIT), WAIT);
      assertThat(log.unstoredPayloads()).isZero();
      assertThat(segmentFiles(dir).size())
          .as("those before the keyed segment go; it and those after it stay for the retention")
          .isGreaterThan(1)
          .isLessThan(files);
    }
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      assertThat(log.recoveredKeys()).extracting(Recovery.KeyedAppend::key).containsExactly("k45");
      assertThat(log.unstoredPayloads()).isZero();
    }
  }

  @Test
  void aSegmentWithAnUnstoredPayloadIsKeptWhateverIsStoredAfterIt() throws Exception {
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      for (int r = 0; r < 30; r++) {
        log.append(payloads(r, 5), WAIT);
      }
      List<LogEntry> all = readAll(log, 0);
      BatchRange first = log.cut(all.get(0), all.get(0), WAIT); // one payload, in segment 0
      BatchRange rest = log.cut(all.get(1), all.get(all.size() - 1), WAIT);
      log.markStored(rest, WAIT);
      assertThat(segmentFiles(dir).get(0).getFileName().toString())
          .isEqualTo(RecordFormat.segmentName(0));
      assertThat(log.unstoredPayloads()).isEqualTo(1);
      log.markStored(first, WAIT);
      assertThat(log.unstoredPayloads()).isZero();
      assertThat(segmentFiles(dir)).hasSize(1);
    }
  }

  @Test
  void recoveryReportsPendingCutsAndWherePayloadsAreNotYetCut() throws Exception {
    BatchRange a;
    BatchRange b;
    BatchRange c;
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      for (int r = 0; r < 20; r++) {
        log.append(payloads(r, 5), WAIT);
      }
      List<LogEntry> all = readAll(log, 0);
      a = log.cut(all.get(0), all.get(29), WAIT);
      b = log.cut(all.get(30), all.get(59), WAIT);
      c = log.cut(all.get(60), all.get(79), WAIT);
      log.markStored(b, WAIT); // stored out of order; a and c are not
    }
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      RecoveryReport report = log.recovery();
      assertThat(report.pendingCuts()).containsExactly(a, c);
      assertThat(report.firstUncutPosition()).isEqualTo(80);
      assertThat(report.unstoredPayloads()).isEqualTo(100 - 30);
      assertThat(report.unstoredBytes())
          .isEqualTo(a.bytes() + c.bytes() + (report.unstoredBytes() - a.bytes() - c.bytes()));
      assertThat(log.pendingCuts()).containsExactly(a, c);
      // the same batch rebuilt from its range holds the same payloads
      try (LogReader r = log.reader(c.first())) {
        for (long p = c.first(); p <= c.last(); p++) {
          assertThat(r.next(WAIT).position()).isEqualTo(p);
        }
      }
      assertThatThrownBy(() -> log.markStored(b, WAIT))
          .isInstanceOf(IllegalArgumentException.class);
      log.markStored(a, WAIT);
      log.markStored(c, WAIT);
      List<LogEntry> rest = readAll(log, 80);
      log.markStored(log.cut(rest.get(0), rest.get(rest.size() - 1), WAIT), WAIT);
      assertThat(log.unstoredPayloads()).isZero();
      assertThat(log.unstoredBytes()).isZero();
    }
    try (DiskLog log = DiskLog.open(dir, small(4096))) {
      assertThat(log.recovery().pendingCuts()).isEmpty();
      assertThat(log.recovery().unstoredPayloads()).isZero();
      assertThat(log.recovery().firstUncutPosition()).isEqualTo(100);
    }
  }

  @Test
  void cutsMustFollowEachOtherAndStayInTheLog() throws Exception {
    try (DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults())) {
      log.append(payloads(0, 4), WAIT);
      List<LogEntry> all = readAll(log, 0);
      assertThatThrownBy(() -> log.cut(all.get(1), all.get(2), WAIT))
          .isInstanceOf(IllegalArgumentException.class);
      LogEntry ghost = new LogEntry(7, 0, 0, new byte[1]);
      assertThatThrownBy(() -> log.cut(all.get(0), ghost, WAIT))
          .isInstanceOf(IllegalArgumentException.class);
      BatchRange r = log.cut(all.get(0), all.get(1), WAIT);
      assertThat(r.name()).isEqualTo("00000000000000000000-00000000000000000001");
      assertThat(log.firstUncutPosition()).isEqualTo(2);
      log.markStored(r, WAIT);
      assertThatThrownBy(() -> log.markStored(r, WAIT))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(log.unstoredPayloads()).isEqualTo(2);
    }
  }

  @Test
  void aReaderWaitsForTheNextAppendAndTimesOutWhenNoneComes() throws Exception {
    try (DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults());
        LogReader r = log.reader(0)) {
      long t0 = System.nanoTime();
      assertThat(r.next(Duration.ofMillis(100))).isNull();
      assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(90));
      CompletableFuture<LogEntry> got = new CompletableFuture<>();
      Thread t =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      got.complete(r.next(WAIT));
                    } catch (Exception e) {
                      got.completeExceptionally(e);
                    }
                  });
      Thread.sleep(50);
      log.append(payloads(0, 1), WAIT);
      assertThat(got.get(10, TimeUnit.SECONDS).position()).isZero();
      t.join(10_000);
    }
  }

  @Test
  void anInterruptWhileAReaderWaitsIsReportedAndTheReaderGoesOn() throws Exception {
    try (DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults());
        LogReader r = log.reader(0)) {
      Thread.currentThread().interrupt();
      assertThatThrownBy(() -> r.next(WAIT)).isInstanceOf(InterruptedException.class);
      assertThat(Thread.interrupted()).isFalse();
      log.append(payloads(0, 2), WAIT);
      assertThat(r.next(WAIT).position()).isZero();
      Thread.currentThread().interrupt();
      assertThatThrownBy(() -> r.next(WAIT)).isInstanceOf(InterruptedException.class);
      assertThat(r.next(WAIT).position()).isEqualTo(1);
    }
  }

  @Test
  void closeEndsTheWriterThreadAndReadersAfterTheyReadEverything() throws Exception {
    LogFixtures.Threads threads = new LogFixtures.Threads();
    DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults().withThreadFactory(threads));
    log.append(payloads(0, 2), WAIT);
    LogReader r = log.reader(0);
    log.close();
    threads.assertNoneAlive();
    assertThat(threads.made).hasSize(2); // the writer and the deadline keeper
    assertThat(r.next(WAIT).position()).isZero();
    assertThat(r.next(WAIT).position()).isEqualTo(1);
    assertThatThrownBy(() -> r.next(WAIT)).isInstanceOf(LogClosedException.class);
    r.close();
    assertThatThrownBy(() -> log.append(payloads(1, 1), WAIT))
        .isInstanceOf(LogClosedException.class);
    log.close(); // idempotent
    try (DiskLog again = DiskLog.open(dir, DiskLogOptions.defaults())) {
      assertThat(again.recovery().nextPosition()).isEqualTo(2);
    }
  }

  @Test
  void aSecondOpenOfTheSameFolderIsRefused() throws Exception {
    try (DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults())) {
      assertThatThrownBy(() -> DiskLog.open(dir, DiskLogOptions.defaults()))
          .hasMessageContaining("open in another process");
    }
  }

  @Test
  void statsCountFsyncsBytesAndTheOldestUnstoredAgeOnTheInjectedClock() throws Exception {
    AtomicLong now = new AtomicLong(1_000_000);
    InstantSource clock = () -> Instant.ofEpochMilli(now.get());
    try (DiskLog log = DiskLog.open(dir, small(4096).withClock(clock))) {
      assertThat(log.stats().oldestUnstoredAgeMillis()).isZero();
      log.append(payloads(0, 5), WAIT);
      now.addAndGet(5_000);
      log.append(payloads(1, 5), WAIT);
      now.addAndGet(3_000);
      LogStats s = log.stats();
      assertThat(s.appends()).isEqualTo(2);
      assertThat(s.fsyncs()).isGreaterThanOrEqualTo(2);
      assertThat(s.fsyncNanos()).isPositive();
      assertThat(s.oldestUnstoredAgeMillis()).isEqualTo(8_000);
      long records = 0;
      for (Path p : segmentFiles(dir)) {
        records += LogFixtures.recordsEnd(p);
      }
      assertThat(s.logBytes()).as("the records' bytes, not the files' sizes").isEqualTo(records);
      List<LogEntry> all = readAll(log, 0);
      assertThat(all.get(0).appendedAtMillis()).isEqualTo(1_000_000);
      log.markStored(log.cut(all.get(0), all.get(4), WAIT), WAIT);
      assertThat(log.stats().oldestUnstoredAgeMillis()).isEqualTo(3_000);
      log.markStored(log.cut(all.get(5), all.get(9), WAIT), WAIT);
      assertThat(log.stats().oldestUnstoredAgeMillis()).isZero();
      assertThat(log.stats().unstoredPayloads()).isZero();
    }
  }

  @Test
  void anAppendLargerThanARecordIsRefusedAndNothingIsWritten() throws Exception {
    try (DiskLog log = DiskLog.open(dir, small(8192))) {
      assertThatThrownBy(() -> log.append(List.of(new byte[5000]), WAIT))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> log.append(List.of(), WAIT))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(log.stats().nextPosition()).isZero();
    }
  }
}
