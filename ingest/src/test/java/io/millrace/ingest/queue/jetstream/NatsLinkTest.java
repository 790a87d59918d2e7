package io.millrace.ingest.queue.jetstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.testing.TestSupport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The link's state is one record swapped as a whole: "not ready" always comes with its reason, and
 * a problem reported about an older state cannot undo a newer provisioning. Against the real
 * nats-server on 127.0.0.1:4222.
 */
@Timeout(60)
class NatsLinkTest {
  @TempDir Path dir;

  @Test
  void aReadyStateWithoutAConnectionOrContextCannotBeMade() {
    assertThatThrownBy(() -> new LinkState(null, null, null, null))
        .isInstanceOf(IllegalArgumentException.class);
    LinkState c = LinkState.connecting();
    assertThat(c.ready()).isFalse();
    assertThat(c.problem()).isNotNull();
    assertThat(c.broken("x").problem()).isEqualTo("x");
  }

  @Test
  void notReadyAlwaysHasAReasonAndStaleReportsAreIgnored() throws Exception {
    String stream = "L" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36);
    Config c =
        TestSupport.config(
            dir,
            Map.of(
                "MILLRACE_QUEUE",
                TestSupport.NATS_URL,
                "MILLRACE_ROLE",
                "worker",
                "MILLRACE_NATS_STREAM",
                stream.toUpperCase(),
                "MILLRACE_NATS_SUBJECT",
                stream + ".payloads",
                "MILLRACE_NATS_DEAD_SUBJECT",
                stream + ".dead"));
    NatsLink link = new NatsLink(c.nats(), "test", new Topology(c.nats(), true));
    try {
      link.start(() -> {});
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> link.state().ready());
      LinkState first = link.state();
      assertThat(first.sub()).isNotNull();

      // three threads report problems about what they saw while the keeper provisions again;
      // a reader checks that "not ready" never comes without its reason
      AtomicInteger reasonless = new AtomicInteger();
      AtomicInteger notReady = new AtomicInteger();
      long until = System.nanoTime() + Duration.ofSeconds(3).toNanos();
      List<Thread> reporters =
          List.of(1, 2, 3).stream()
              .map(
                  i ->
                      Thread.ofPlatform()
                          .start(
                              () -> {
                                while (System.nanoTime() < until) {
                                  link.broken(link.state(), "reporter " + i);
                                  Thread.onSpinWait();
                                }
                              }))
              .toList();
      while (System.nanoTime() < until) {
        LinkState s = link.state();
        if (!s.ready()) {
          notReady.incrementAndGet();
          if (NatsLink.notReadyReason(s) == null) {
            reasonless.incrementAndGet();
          }
        }
      }
      for (Thread t : reporters) {
        t.join();
      }
      assertThat(notReady.get()).as("the reporters did break it").isPositive();
      assertThat(reasonless.get()).as("not ready without a reason").isZero();

      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> link.state().ready());
      LinkState now = link.state();
      assertThat(now).isNotSameAs(first);
      link.broken(first, "about an old subscription");
      assertThat(link.state()).as("a stale report changes nothing").isSameAs(now);
      assertThat(link.notReadyReason()).isNull();
    } finally {
      link.close();
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(link::stopped);
      TestSupport.deleteStreams(stream);
    }
  }
}
