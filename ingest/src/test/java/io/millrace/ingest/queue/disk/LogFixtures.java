package io.millrace.ingest.queue.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadFactory;
import java.util.stream.Stream;

/** Shared helpers for the log's tests. */
final class LogFixtures {
  static final Duration WAIT = Duration.ofSeconds(10);

  private LogFixtures() {}

  /**
   * {@return {@code n} payloads of about 110 bytes, whose content names the request and the index,
   * so any payload read back can be checked against what was appended}
   */
  static List<byte[]> payloads(long request, int n) {
    List<byte[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      String s = "{\"request\":" + request + ",\"i\":" + i + ",\"pad\":\"" + "x".repeat(70) + "\"}";
      out.add(s.getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  static String text(LogEntry e) {
    return new String(e.payload(), StandardCharsets.UTF_8);
  }

  /** A thread factory that remembers its threads, to check that none outlives the log. */
  static final class Threads implements ThreadFactory {
    final List<Thread> made = new CopyOnWriteArrayList<>();

    @Override
    public Thread newThread(Runnable r) {
      Thread t = Thread.ofPlatform().name("test-log-writer-" + made.size()).unstarted(r);
      made.add(t);
      return t;
    }

    void assertNoneAlive() {
      for (Thread t : made) {
        assertThat(t.isAlive()).as("%s outlived close()", t.getName()).isFalse();
      }
    }
  }

  static DiskLogOptions small(long segmentBytes) {
    return DiskLogOptions.defaults().withMaxRecordBytes(2048).withSegmentBytes(segmentBytes);
  }

  /** Reads every durable payload from {@code from} on, without waiting. */
  static List<LogEntry> readAll(DiskLog log, long from) throws Exception {
    List<LogEntry> out = new ArrayList<>();
    try (LogReader r = log.reader(from)) {
      for (LogEntry e; (e = r.next(Duration.ZERO)) != null; ) {
        out.add(e);
      }
    }
    return out;
  }

  /**
   * {@return the segment files, in order: the {@code .log} files holding a segment header} A spare
   * (preallocated, zeros, not yet rolled onto) is not a segment; see {@link #spareFiles}.
   */
  static List<Path> segmentFiles(Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    for (Path p : logFiles(dir)) {
      if (hasHeader(p)) {
        out.add(p);
      }
    }
    return out;
  }

  /** {@return the {@code .log} files without a segment header: spares} */
  static List<Path> spareFiles(Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    for (Path p : logFiles(dir)) {
      if (!hasHeader(p)) {
        out.add(p);
      }
    }
    return out;
  }

  private static List<Path> logFiles(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".log")).sorted().toList();
    }
  }

  private static boolean hasHeader(Path p) throws IOException {
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(RecordFormat.SEGMENT_HEADER_BYTES);
      while (b.hasRemaining() && ch.read(b, b.position()) >= 0) {}
      return RecordFormat.checkSegmentHeader(b.flip()) == null;
    } catch (java.nio.file.NoSuchFileException gone) {
      return false;
    }
  }

  /** {@return the offset where a segment file's records end (a zeroed tail is not records)} */
  static long recordsEnd(Path segment) throws IOException {
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(segment)) {
      RecordScanner s =
          new RecordScanner(ch, RecordFormat.SEGMENT_HEADER_BYTES, ch.size(), 1 << 24);
      while (s.next() == RecordScanner.Step.RECORD) {}
      return s.offset();
    }
  }
}
