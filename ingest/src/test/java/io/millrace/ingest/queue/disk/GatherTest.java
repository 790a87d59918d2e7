package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.LogFixtures.WAIT;
import static io.millrace.ingest.queue.disk.LogFixtures.payloads;
import static io.millrace.ingest.queue.disk.LogFixtures.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer's gather: once a write arrives it waits up to {@code gatherNanos} for more, and a
 * queue of {@code gatherWrites} ends that wait at once. A long gather makes both visible.
 */
@Timeout(60)
class GatherTest {
  private static final long GATHER_NANOS = TimeUnit.SECONDS.toNanos(2);

  @TempDir Path dir;

  @Test
  void aLoneAppendWaitsOutTheGatherAndAFullQueueEndsItAtOnceInOneFsync() throws Exception {
    AtomicInteger fsyncs = new AtomicInteger();
    LogListener counting =
        new LogListener() {
          @Override
          public void onFsync(long nanos, int writes) {
            fsyncs.incrementAndGet();
          }
        };
    try (DiskLog log =
        DiskLog.open(
            dir, LogFixtures.small(1 << 20).withGather(GATHER_NANOS, 4).withListener(counting))) {
      long t0 = System.nanoTime();
      log.append(payloads(0, 1), WAIT);
      assertThat(System.nanoTime() - t0)
          .as("a lone append waits for company")
          .isGreaterThan(GATHER_NANOS * 3 / 4);

      int before = fsyncs.get();
      t0 = System.nanoTime();
      List<Future<Positions>> four = new ArrayList<>();
      try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
        for (int r = 1; r <= 4; r++) {
          int request = r;
          four.add(pool.submit(() -> log.append(payloads(request, 1), WAIT)));
        }
        for (Future<Positions> f : four) {
          f.get(10, TimeUnit.SECONDS);
        }
      }
      assertThat(System.nanoTime() - t0)
          .as("four queued end the gather")
          .isLessThan(GATHER_NANOS * 3 / 4);
      assertThat(fsyncs.get() - before).as("one write and fsync for the four").isEqualTo(1);
      assertThat(readAll(log, 0)).hasSize(5);
    }
  }

  @Test
  void anAppendWithdrawnDuringTheGatherLeavesTheWriterRunning() throws Exception {
    try (DiskLog log = DiskLog.open(dir, LogFixtures.small(1 << 20).withGather(GATHER_NANOS, 4))) {
      assertThatThrownBy(() -> log.append(payloads(0, 1), Duration.ofMillis(100)))
          .isInstanceOfSatisfying(
              LogTimeoutException.class, e -> assertThat(e.mayBeWritten()).isFalse());
      Positions p = log.append(payloads(1, 1), WAIT); // the writer went back to waiting
      assertThat(p.first()).isZero();
      assertThat(readAll(log, 0)).hasSize(1);
    }
  }
}
