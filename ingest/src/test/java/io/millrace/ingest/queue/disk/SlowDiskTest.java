package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.LogFixtures.WAIT;
import static io.millrace.ingest.queue.disk.LogFixtures.payloads;
import static io.millrace.ingest.queue.disk.LogFixtures.readAll;
import static io.millrace.ingest.queue.disk.LogFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A disk whose fsync hangs: a queued write times out withdrawn (never written), an append the
 * writer holds times out as "may still be written" and does land, and a cut the writer holds waits
 * for its outcome past its timeout, so the log and the batcher never disagree about a batch.
 */
@Timeout(60)
class SlowDiskTest {
  @TempDir Path dir;

  /** While set, the next force waits: counts down {@code hanging}, then awaits {@code release}. */
  private record Hang(CountDownLatch hanging, CountDownLatch release) {}

  private final AtomicReference<Hang> hang = new AtomicReference<>();

  private Hang hangNextForce() {
    Hang h = new Hang(new CountDownLatch(1), new CountDownLatch(1));
    hang.set(h);
    return h;
  }

  @Test
  void timeoutsSayWhetherTheWriteMayLandAndCutsSettle() throws Exception {
    ChannelOpener opener =
        HookedChannel.opener(
            new HookedChannel.Hooks() {
              @Override
              public void beforeForce(Path path) {
                Hang h = hang.getAndSet(null);
                if (h != null) {
                  h.hanging().countDown();
                  try {
                    h.release().await(30, TimeUnit.SECONDS);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                }
              }
            });
    // no spare: the hook hangs the next force of any thread, and must catch the writer's
    try (DiskLog log =
        DiskLog.open(dir, DiskLogOptions.defaults().withPreallocate(false), opener)) {
      log.append(payloads(0, 2), WAIT);
      List<LogEntry> first = readAll(log, 0);

      Hang h = hangNextForce();
      CompletableFuture<Object> cut =
          attempt(() -> log.cut(first.get(0), first.get(1), Duration.ofMillis(50)));
      assertThat(h.hanging().await(10, TimeUnit.SECONDS)).isTrue(); // the writer holds the cut
      Object queued = attempt(() -> log.append(payloads(1, 1), Duration.ofMillis(50))).get();
      assertThat(((LogTimeoutException) queued).mayBeWritten()).as("withdrawn").isFalse();
      Thread.sleep(200);
      assertThat(cut).as("a cut the writer holds waits for its outcome").isNotDone();
      h.release().countDown();
      BatchRange range = (BatchRange) cut.get(10, TimeUnit.SECONDS);
      assertThat(log.pendingCuts()).containsExactly(range);

      h = hangNextForce();
      CompletableFuture<Object> held =
          attempt(() -> log.append(payloads(2, 1), Duration.ofMillis(50)));
      assertThat(h.hanging().await(10, TimeUnit.SECONDS)).isTrue();
      Object late = held.get(10, TimeUnit.SECONDS);
      assertThat(((LogTimeoutException) late).mayBeWritten()).as("held by the writer").isTrue();
      h.release().countDown();
      List<LogEntry> all = null;
      for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
          System.nanoTime() < end;
          Thread.sleep(10)) {
        all = readAll(log, 0);
        if (all.size() == 3) {
          break;
        }
      }
      assertThat(all).hasSize(3); // request 1 never written, request 2 landed after its timeout
      assertThat(text(all.get(2))).contains("\"request\":2,");
    }
    try (DiskLog log = DiskLog.open(dir, DiskLogOptions.defaults())) {
      assertThat(log.recovery().nextPosition()).isEqualTo(3);
      assertThat(log.recovery().pendingCuts()).hasSize(1);
    }
  }

  private interface Call {
    Object run() throws Exception;
  }

  /** Runs a call on a virtual thread: its result, or the exception it threw, as the value. */
  private static CompletableFuture<Object> attempt(Call call) {
    CompletableFuture<Object> f = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                f.complete(call.run());
              } catch (Exception e) {
                f.complete(e);
              }
            });
    return f;
  }
}
