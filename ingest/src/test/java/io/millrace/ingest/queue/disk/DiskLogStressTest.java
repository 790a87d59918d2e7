package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.LogFixtures.WAIT;
import static io.millrace.ingest.queue.disk.LogFixtures.payloads;
import static io.millrace.ingest.queue.disk.LogFixtures.segmentFiles;
import static io.millrace.ingest.queue.disk.LogFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hundreds of rounds of concurrent appends, a tail-following reader that cuts batches of random
 * sizes, and uploaders that mark them stored in random order, over tiny segments. Each round checks
 * exact accounting: every appended payload read once, in position order, with its content; the
 * counters back to zero; every sealed segment deleted; the writer thread gone after close. Scale
 * with {@code -Dmillrace.stress.iterations=N}.
 */
@Timeout(600)
class DiskLogStressTest {
  @TempDir Path tmp;

  @Test
  void concurrentAppendReadCutAndOutOfOrderAcksKeepExactAccounting() throws Exception {
    int iterations = Integer.getInteger("millrace.stress.iterations", 300);
    long seed = System.nanoTime();
    System.out.println("disk log stress: " + iterations + " iterations, seed " + seed);
    // the concurrency is under test here, not the disk: a tmpfs where there is one
    Path base =
        Files.isDirectory(Path.of("/dev/shm"))
            ? Files.createTempDirectory(Path.of("/dev/shm"), "millrace-stress")
            : tmp;
    try {
      for (int i = 0; i < iterations; i++) {
        round(base.resolve("r" + i), new Random(seed + i), "seed " + seed + " iteration " + i);
      }
    } finally {
      delete(base);
    }
  }

  private void round(Path dir, Random random, String what) throws Exception {
    int appenders = 1 + random.nextInt(6);
    int perAppender = 1 + random.nextInt(12);
    LogFixtures.Threads threads = new LogFixtures.Threads();
    Map<Long, String> expected = new ConcurrentHashMap<>(); // position -> content marker
    AtomicLong total = new AtomicLong();
    try (DiskLog log =
            DiskLog.open(
                dir, LogFixtures.small(4096 + random.nextInt(8192)).withThreadFactory(threads));
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> work = new ArrayList<>();
      for (int a = 0; a < appenders; a++) {
        int appender = a;
        int seedSize = random.nextInt(5);
        work.add(
            pool.submit(
                () -> {
                  for (int k = 0; k < perAppender; k++) {
                    long request = appender * 1000L + k;
                    int n = 1 + (seedSize + k) % 5;
                    Positions at = log.append(payloads(request, n), WAIT);
                    for (int i = 0; i < n; i++) {
                      expected.put(at.first() + i, "{\"request\":" + request + ",\"i\":" + i + ",");
                    }
                    total.addAndGet(n);
                  }
                  return null;
                }));
      }
      List<Future<?>> acks = new ArrayList<>();
      long read = 0;
      List<LogEntry> seen = new ArrayList<>();
      long position = 0;
      try (LogReader reader = log.reader(0)) {
        while (true) {
          boolean appending = work.stream().anyMatch(f -> !f.isDone());
          if (!appending && read == total.get()) {
            break;
          }
          int size = 1 + random.nextInt(20);
          LogEntry first = reader.next(Duration.ofMillis(20));
          if (first == null) {
            continue;
          }
          LogEntry last = first;
          List<LogEntry> batch = new ArrayList<>(List.of(first));
          for (LogEntry e; batch.size() < size && (e = reader.next(Duration.ZERO)) != null; ) {
            batch.add(e);
            last = e;
          }
          for (LogEntry e : batch) {
            assertThat(e.position()).as(what).isEqualTo(position++);
          }
          read += batch.size();
          seen.addAll(batch);
          BatchRange range = log.cut(first, last, WAIT);
          long delay = random.nextInt(3);
          acks.add(
              pool.submit(
                  () -> {
                    Thread.sleep(delay);
                    log.markStored(range, WAIT);
                    return null;
                  }));
        }
      }
      for (Future<?> f : work) {
        f.get(30, TimeUnit.SECONDS);
      }
      for (Future<?> f : acks) {
        f.get(30, TimeUnit.SECONDS);
      }
      assertThat(read).as(what).isEqualTo(total.get()).isEqualTo(expected.size());
      for (LogEntry e : seen) { // every appender has returned: expected is complete
        assertThat(text(e)).as(what).startsWith(expected.get(e.position()));
      }
      assertThat(log.unstoredPayloads()).as(what).isZero();
      assertThat(log.unstoredBytes()).as(what).isZero();
      assertThat(log.pendingCuts()).as(what).isEmpty();
      assertThat(segmentFiles(dir)).as(what).hasSize(1);
    }
    threads.assertNoneAlive();
    try (DiskLog again = DiskLog.open(dir, LogFixtures.small(16384))) {
      assertThat(again.recovery().unstoredPayloads()).as(what).isZero();
      assertThat(again.recovery().nextPosition()).as(what).isEqualTo(total.get());
    }
  }

  private static void delete(Path dir) throws Exception {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
