package io.millrace.ingest.queue.jetstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.testing.NatsServerProcess;
import io.millrace.ingest.testing.TestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admission on JetStream at its edges: a request answered 503 before it was sent is never published
 * afterwards, and closing the queue never misses a request that got in.
 */
@Timeout(120)
class JetStreamAdmissionTest {
  @TempDir Path dir;
  String stream;

  @BeforeEach
  void names() {
    stream = "A" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36).toUpperCase();
  }

  @AfterEach
  void cleanUp() throws Exception {
    TestSupport.deleteStreams(stream);
  }

  Config config(Map<String, String> extra) throws Exception {
    Map<String, String> env = TestSupport.natsStream(stream);
    env.put("MILLRACE_ROLE", "ingest");
    env.putAll(extra);
    return TestSupport.config(dir, env);
  }

  static JetStreamJobQueue ready(JetStreamJobQueue q) {
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> q.notReadyReason() == null);
    return q;
  }

  static List<byte[]> request(int r, int padBytes) {
    String json = "{\"r\":" + r + ",\"pad\":\"" + "x".repeat(padBytes) + "\"}";
    return List.of(json.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * A frozen broker: the first four 100 KB requests fill the two messages in flight (two per
   * message), the next six wait for their turn; when the slots free up after the publish timeout,
   * four of those are sent (in time, so they may land), the last two are still waiting when their
   * own timeout ends. Those two are answered 503 and must never be published, not even once the
   * broker is back.
   */
  @Test
  void aRequestAnswered503BeforeItWasSentIsNeverPublishedAfterwards() throws Exception {
    try (NatsServerProcess nats = NatsServerProcess.start(dir.resolve("frozen"))) {
      JetStreamJobQueue q =
          ready(
              new JetStreamJobQueue(
                  config(
                      Map.of(
                          "MILLRACE_QUEUE",
                          nats.url(),
                          "MILLRACE_NATS_PUBLISH_TIMEOUT_MS",
                          "1000")),
                  new Metrics(),
                  "run",
                  System::currentTimeMillis));
      try {
        assertThat(q.intake().orElseThrow().admit(request(-1, 10)))
            .isInstanceOf(Admission.Admitted.class);
        nats.pause();
        List<CompletableFuture<Admission>> answers = new ArrayList<>();
        try {
          for (int r = 0; r < 10; r++) {
            if (r == 4) {
              Thread.sleep(300); // the first four are in the two messages in flight by now
            }
            List<byte[]> req = request(r, 100_000);
            answers.add(CompletableFuture.supplyAsync(() -> q.intake().orElseThrow().admit(req)));
          }
          for (CompletableFuture<Admission> a : answers) {
            assertThat(a.get(20, TimeUnit.SECONDS)).isInstanceOf(Admission.Unavailable.class);
          }
        } finally {
          nats.resume();
        }
        Set<Integer> notSent = new HashSet<>();
        for (int r = 0; r < answers.size(); r++) {
          if (((Admission.Unavailable) answers.get(r).get()).reason().contains("not sent")) {
            notSent.add(r);
          }
        }
        // whatever was still queued after the thaw has gone out by now
        Thread.sleep(3000);
        Set<Integer> stored = new HashSet<>();
        Pattern id = Pattern.compile("\\{\"r\":(-?\\d+),");
        for (byte[] m : nats.messages(stream)) {
          for (String line : new String(m, StandardCharsets.UTF_8).split("\n")) {
            Matcher mm = id.matcher(line);
            assertThat(mm.lookingAt()).as("a payload of ours").isTrue();
            stored.add(Integer.parseInt(mm.group(1)));
          }
        }
        System.out.println("frozen broker: stored " + stored + ", answered 'not sent' " + notSent);
        assertThat(stored).as("the warm-up request").contains(-1);
        assertThat(stored.stream().filter(notSent::contains).toList())
            .as("answered 'not sent', yet published")
            .isEmpty();
        assertThat(stored)
            .as("the last two were waiting when they timed out: answered 503, never published")
            .doesNotContain(8, 9);
      } finally {
        q.close();
      }
    }
  }

  /**
   * A request that enters admission just as the queue closes is either refused (shutting down) or
   * waited for; it never waits out the publish timeout because close missed it. Many rounds, each
   * sliding the request's start across the moment of the close.
   */
  @Test
  void closeNeverMissesARequestThatGotIn() throws Exception {
    Config c = config(Map.of("MILLRACE_NATS_PUBLISH_TIMEOUT_MS", "5000"));
    int rounds = 60;
    int slow = 0;
    Map<String, Integer> outcomes = new HashMap<>();
    for (int round = 0; round < rounds; round++) {
      JetStreamJobQueue q =
          ready(new JetStreamJobQueue(c, new Metrics(), "r" + round, System::currentTimeMillis));
      AtomicBoolean go = new AtomicBoolean();
      int spins = ThreadLocalRandom.current().nextInt(4000);
      List<byte[]> req = request(round, 10);
      CompletableFuture<Admission> answer = new CompletableFuture<>();
      long[] tookNanos = new long[1];
      Thread admitter =
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (!go.get()) {
                      Thread.onSpinWait();
                    }
                    for (int i = 0; i < spins; i++) {
                      Thread.onSpinWait();
                    }
                    long t0 = System.nanoTime();
                    Admission a = q.intake().orElseThrow().admit(req);
                    tookNanos[0] = System.nanoTime() - t0;
                    answer.complete(a);
                  });
      int closeSpins = ThreadLocalRandom.current().nextInt(20_000);
      go.set(true);
      for (int i = 0; i < closeSpins; i++) {
        Thread.onSpinWait();
      }
      q.close();
      Admission a = answer.get(20, TimeUnit.SECONDS);
      admitter.join();
      outcomes.merge(a.getClass().getSimpleName(), 1, Integer::sum);
      if (TimeUnit.NANOSECONDS.toMillis(tookNanos[0]) >= 2000) {
        slow++;
      }
      assertThat(a).isInstanceOfAny(Admission.Admitted.class, Admission.ShuttingDown.class);
    }
    System.out.println("close vs admit: " + outcomes + ", " + slow + " slow of " + rounds);
    assertThat(slow).as("requests that waited out the publish timeout").isZero();
  }
}
