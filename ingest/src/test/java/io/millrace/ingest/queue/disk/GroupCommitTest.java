package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.LogFixtures.WAIT;
import static io.millrace.ingest.queue.disk.LogFixtures.payloads;
import static io.millrace.ingest.queue.disk.LogFixtures.readAll;
import static io.millrace.ingest.queue.disk.LogFixtures.segmentFiles;
import static io.millrace.ingest.queue.disk.LogFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(120)
class GroupCommitTest {
  @TempDir Path dir;
  @TempDir Path snapshots;

  record Returned(long request, Positions at) {}

  /**
   * 64 appenders at once. While they run, snapshots keep of each segment file only the bytes that
   * were forced (what a power cut leaves in the worst case); every append that had returned before
   * a snapshot must be in it, whole, at its positions.
   */
  @Test
  void concurrentAppendsShareFsyncsAndEachIsForcedBeforeItReturns() throws Exception {
    Map<Path, Long> forced = new ConcurrentHashMap<>();
    ChannelOpener opener =
        HookedChannel.opener(
            new HookedChannel.Hooks() {
              @Override
              public void afterForce(Path path, long size) {
                forced.merge(path, size, Math::max);
              }
            });
    int threads = 64;
    int perThread = 60;
    ConcurrentLinkedQueue<Returned> returned = new ConcurrentLinkedQueue<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Path> snaps = new ArrayList<>();
    List<List<Returned>> before = new ArrayList<>();
    try (DiskLog log = DiskLog.open(dir, LogFixtures.small(64 << 10), opener)) {
      CountDownLatch done = new CountDownLatch(threads);
      for (int t = 0; t < threads; t++) {
        int thread = t;
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    for (int i = 0; i < perThread; i++) {
                      long request = thread * 1000L + i;
                      returned.add(new Returned(request, log.append(payloads(request, 10), WAIT)));
                    }
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  } finally {
                    done.countDown();
                  }
                });
      }
      for (int s = 0; s < 5 && done.getCount() > 0; s++) {
        Thread.sleep(40);
        before.add(List.copyOf(returned)); // first what had returned, then what was forced
        snaps.add(snapshot(forced, snapshots.resolve("s" + s)));
      }
      assertThat(done.await(60, TimeUnit.SECONDS)).isTrue();
      assertThat(failure.get()).isNull();
      LogStats stats = log.stats();
      System.out.printf(
          "group commit: %d appends, %d fsyncs, %.1f appends per fsync%n",
          stats.appends(), stats.fsyncs(), stats.appendsPerFsync());
      assertThat(stats.appends()).isEqualTo(threads * perThread);
      assertThat(stats.fsyncs()).isLessThan(stats.appends() / 2);
      checkContains(readAll(log, 0), List.copyOf(returned));
    }
    for (int s = 0; s < snaps.size(); s++) {
      try (DiskLog copy = DiskLog.open(snaps.get(s), DiskLogOptions.defaults())) {
        checkContains(readAll(copy, 0), before.get(s));
      }
    }
    assertThat(snaps).isNotEmpty();
  }

  private static void checkContains(List<LogEntry> all, List<Returned> returned) {
    Map<Long, LogEntry> byPosition = new HashMap<>();
    for (LogEntry e : all) {
      assertThat(byPosition.put(e.position(), e)).isNull();
    }
    for (Returned r : returned) {
      for (int i = 0; i < r.at().count(); i++) {
        LogEntry e = byPosition.get(r.at().first() + i);
        assertThat(e).as("position %d of request %d", r.at().first() + i, r.request()).isNotNull();
        assertThat(text(e)).contains("{\"request\":" + r.request() + ",\"i\":" + i + ",");
      }
    }
  }

  /** Copies each segment file up to the size it had at its last completed force. */
  private Path snapshot(Map<Path, Long> forced, Path to) throws IOException {
    Map<Path, Long> sizes = new HashMap<>(forced);
    Files.createDirectories(to);
    for (Path p : segmentFiles(dir)) {
      Long size = sizes.get(p);
      if (size == null) {
        continue; // never forced: a power cut could leave nothing of it
      }
      try (InputStream in = Files.newInputStream(p);
          OutputStream out = Files.newOutputStream(to.resolve(p.getFileName()))) {
        out.write(in.readNBytes(Math.toIntExact(size)));
      }
    }
    return to;
  }
}
