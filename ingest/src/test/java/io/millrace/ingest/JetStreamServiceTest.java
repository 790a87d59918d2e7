package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.metric;
import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.http.Problems;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.Nats;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The service over HTTP with the JetStream queue (the real nats-server on 127.0.0.1:4222, a stream
 * per test): everything accepted is stored exactly once under the storage layout, an {@code
 * Idempotency-Key} admits a request once (in both queue modes), the roles serve what they should,
 * and an unreachable broker answers 503 with {@code Retry-After}.
 */
@Timeout(90)
class JetStreamServiceTest {
  /**
   * {@code <run id>-<request seq, 12 hex>-<index>-<count>.ndjson.gz}: the first payload's id, then
   * the count.
   */
  static final Pattern NATS_BATCH_KEY =
      Pattern.compile(
          "payloads/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/[a-z0-9]+-[0-9a-f]{12}-\\d+-\\d+\\.ndjson\\.gz");

  static final Pattern NATS_SINGLE_KEY =
      Pattern.compile(
          "payloads/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/[a-z0-9]+-[0-9a-f]{12}-\\d+\\.json");

  @TempDir Path dir;
  String stream;

  @BeforeEach
  void name() {
    stream = "S" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36).toUpperCase();
  }

  @AfterEach
  void deleteStreams() throws Exception {
    try (Connection nc = Nats.connect(TestSupport.NATS_URL)) {
      for (String s : List.of(stream, stream + "_DEAD")) {
        try {
          nc.jetStreamManagement().deleteStream(s);
        } catch (JetStreamApiException e) {
          // not created
        }
      }
    }
  }

  Map<String, String> nats(String role) {
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_QUEUE", TestSupport.NATS_URL);
    env.put("MILLRACE_ROLE", role);
    env.put("MILLRACE_NATS_STREAM", stream);
    env.put("MILLRACE_NATS_SUBJECT", stream.toLowerCase() + ".payloads");
    env.put("MILLRACE_NATS_DEAD_SUBJECT", stream.toLowerCase() + ".dead");
    return env;
  }

  @ParameterizedTest
  @ValueSource(strings = {"batched", "per-payload"})
  void everythingAcceptedIsStoredExactlyOnceUnderTheLayout(String mode) throws Exception {
    Map<String, String> env = nats("all");
    env.put("MILLRACE_MODE", mode);
    env.put("MILLRACE_BATCH_MAX_PAYLOADS", "40");
    try (IngestService s = IngestService.start(TestSupport.config(dir, env))) {
      List<String> expected = new ArrayList<>();
      int requests = mode.equals("batched") ? 30 : 8;
      for (int r = 0; r < requests; r++) {
        List<String> ps = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          ps.add("{\"r\":" + r + ",\"i\":" + i + ",\"s\":\"\\n not a line break\"}");
        }
        RawHttp.Response resp =
            RawHttp.post(
                s.port(),
                "application/json",
                utf8("{\"payloads\": [" + String.join(", ", ps) + "]}"));
        assertThat(resp.status()).as("%s", resp).isEqualTo(202);
        expected.addAll(ps);
      }
      int total = expected.size();
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> metric(s.port(), "millrace_payloads_stored_total") >= total);
      try (S3Client s3 = TestSupport.client(s.embeddedStore())) {
        Map<String, List<String>> objects = TestSupport.readAll(s3, "millrace");
        Map<String, Integer> counts = TestSupport.payloadCounts(objects);
        assertThat(counts.keySet()).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(counts.values()).containsOnly(1);
        Pattern layout = mode.equals("batched") ? NATS_BATCH_KEY : NATS_SINGLE_KEY;
        assertThat(objects.keySet())
            .allMatch(k -> layout.matcher(k).matches(), "key layout " + layout);
        if (mode.equals("batched")) {
          for (var e : objects.entrySet()) {
            assertThat(e.getKey()).endsWith("-" + e.getValue().size() + ".ndjson.gz");
          }
        }
      }
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> metric(s.port(), "millrace_queue_payloads") == 0);
      try (Connection nc = Nats.connect(TestSupport.NATS_URL)) {
        Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () ->
                    nc.jetStreamManagement().getStreamInfo(stream).getStreamState().getMsgCount()
                        == 0);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "nats"})
  void theSameIdempotencyKeyIsAdmittedAndStoredOnce(String queue) throws Exception {
    Map<String, String> env = queue.equals("nats") ? nats("all") : new HashMap<>();
    try (IngestService s = IngestService.start(TestSupport.config(dir, env))) {
      byte[] body = utf8("{\"payloads\":[{\"once\":1},{\"once\":2}]}");
      RawHttp.Response first =
          RawHttp.post(s.port(), "application/json", body, Map.of("Idempotency-Key", "order-17"));
      RawHttp.Response again =
          RawHttp.post(s.port(), "application/json", body, Map.of("Idempotency-Key", "order-17"));
      RawHttp.Response other =
          RawHttp.post(
              s.port(),
              "application/json",
              utf8("{\"payloads\":[{\"once\":3}]}"),
              Map.of("Idempotency-Key", "order-18"));
      assertThat(first.status()).isEqualTo(202);
      assertThat(first.text()).isEqualTo("{\"accepted\":2}");
      assertThat(first.header("Idempotent-Replayed")).isNull();
      assertThat(again.status()).isEqualTo(202);
      assertThat(again.text()).isEqualTo("{\"accepted\":2,\"replayed\":true}");
      assertThat(again.header("Idempotent-Replayed")).isEqualTo("true");
      assertThat(other.text()).isEqualTo("{\"accepted\":1}");

      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> metric(s.port(), "millrace_payloads_stored_total") >= 3);
      Thread.sleep(300); // a second copy, if one were coming, would be stored by now
      try (S3Client s3 = TestSupport.client(s.embeddedStore())) {
        Map<String, Integer> counts =
            TestSupport.payloadCounts(TestSupport.readAll(s3, "millrace"));
        assertThat(counts)
            .containsExactlyInAnyOrderEntriesOf(
                Map.of("{\"once\":1}", 1, "{\"once\":2}", 1, "{\"once\":3}", 1));
      }
      assertThat(metric(s.port(), "millrace_payloads_accepted_total")).isEqualTo(3.0);
    }
  }

  @Test
  void aBadIdempotencyKeyIsAClientError() throws Exception {
    try (IngestService s = IngestService.start(TestSupport.config(dir, Map.of()))) {
      RawHttp.Response r =
          RawHttp.post(
              s.port(),
              "application/json",
              utf8("{\"payloads\":[1]}"),
              Map.of("Idempotency-Key", "x".repeat(129)));
      assertThat(r.status()).isEqualTo(400);
      assertThat(r.header("Content-Type")).isEqualTo(Problems.CONTENT_TYPE);
      assertThat(r.text()).contains("bad-idempotency-key").contains("1..128");
      assertThat(s.queue().budget().payloads()).isZero();
    }
  }

  @Test
  void aWorkerNodeServesProbesAndAdmitsNothing() throws Exception {
    try (IngestService s = IngestService.start(TestSupport.config(dir, nats("worker")))) {
      RawHttp.Response r = RawHttp.post(s.port(), "application/json", utf8("{\"payloads\":[1]}"));
      assertThat(r.status()).isEqualTo(404);
      assertThat(r.text()).contains("MILLRACE_ROLE=worker");
      assertThat(RawHttp.get(s.port(), "/healthz").status()).isEqualTo(200);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> RawHttp.get(s.port(), "/readyz").status() == 200);
      assertThat(RawHttp.get(s.port(), "/metrics").text())
          .contains("millrace_nats_dead_lettered_messages_total");
    }
  }

  @Test
  void anIngestNodeHasNoStoreAndAnswersOnlyAfterThePublishAck() throws Exception {
    try (IngestService s = IngestService.start(TestSupport.config(dir, nats("ingest")))) {
      assertThat(s.embeddedStore()).isNull();
      assertThat(RawHttp.get(s.port(), "/readyz").status()).isEqualTo(200);
      RawHttp.Response r =
          RawHttp.post(s.port(), "application/json", utf8("{\"payloads\":[{\"a\":1},{\"b\":2}]}"));
      assertThat(r.status()).isEqualTo(202);
      try (Connection nc = Nats.connect(TestSupport.NATS_URL)) {
        // the 202 came after JetStream's ack: the message is in the stream now, not later
        assertThat(nc.jetStreamManagement().getStreamInfo(stream).getStreamState().getMsgCount())
            .isEqualTo(1);
      }
      assertThat(s.shutdown().drained()).isTrue();
    }
  }

  @Test
  void anUnreachableBrokerAnswers503WithRetryAfterAndNotReady() throws Exception {
    int port;
    try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = ss.getLocalPort();
    }
    Map<String, String> env = nats("ingest");
    env.put("MILLRACE_QUEUE", "nats://127.0.0.1:" + port);
    try (IngestService s = IngestService.start(TestSupport.config(dir, env))) {
      RawHttp.Response r = RawHttp.post(s.port(), "application/json", utf8("{\"payloads\":[1]}"));
      assertThat(r.status()).isEqualTo(503);
      assertThat(r.header("Retry-After")).isNotNull();
      assertThat(r.text()).contains("queue-unavailable").contains("NATS unreachable");
      RawHttp.Response ready = RawHttp.get(s.port(), "/readyz");
      assertThat(ready.status()).isEqualTo(503);
      assertThat(ready.text()).contains("NATS unreachable");
      assertThat(RawHttp.get(s.port(), "/healthz").status()).isEqualTo(200);
    }
  }
}
