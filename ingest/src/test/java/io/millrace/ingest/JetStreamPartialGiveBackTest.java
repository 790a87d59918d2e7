package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.metric;
import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.store.ObjectStore;
import io.millrace.ingest.testing.ForwardingStore;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import io.millrace.pipeline.NoLeakedRunThreads;
import io.nats.client.Connection;
import io.nats.client.Nats;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * JetStream, a partitioned key template and a piece of a batch that cannot be stored for a while:
 * its batch goes back to the stream whole (no message of it acknowledged before the piece is
 * stored), and every payload ends up stored once, under a key of its own value (the real
 * nats-server on 127.0.0.1:4222, a stream per test, the embedded store behind a wrapper that fails
 * one partition's first PUTs).
 */
@ExtendWith(NoLeakedRunThreads.class)
@Timeout(120)
class JetStreamPartialGiveBackTest {
  static final Pattern SOURCE = Pattern.compile("\"source\":\"([^\"]*)\"");

  @TempDir Path dir;
  String stream;

  @BeforeEach
  void name() {
    stream = "P" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36).toUpperCase();
  }

  @AfterEach
  void deleteStreams() throws Exception {
    TestSupport.deleteStreams(stream);
  }

  /**
   * Fails every PUT under {@code source=bad/} until {@code howMany} have failed; {@code calls}
   * counts every such PUT, so {@code calls > howMany} once one got through.
   */
  static ObjectStore failingBad(ObjectStore real, AtomicInteger calls, int howMany) {
    return new ForwardingStore(real) {
      void check(String key) throws Exception {
        if (key.contains("/source=bad/") && calls.getAndIncrement() < howMany) {
          throw new java.io.IOException("injected: the store refuses " + key);
        }
      }

      @Override
      public void put(String key, byte[] body, String contentType, String contentEncoding)
          throws Exception {
        check(key);
        super.put(key, body, contentType, contentEncoding);
      }

      @Override
      public boolean putIfAbsent(
          String key, byte[] body, String contentType, String contentEncoding) throws Exception {
        check(key);
        return super.putIfAbsent(key, body, contentType, contentEncoding);
      }
    };
  }

  @Test
  void aPieceThatRunsOutOfTriesSendsItsWholeBatchBackAndEveryPayloadIsStoredOnce()
      throws Exception {
    Map<String, String> env = TestSupport.natsStream(stream);
    env.put("MILLRACE_MODE", "batched");
    env.put("MILLRACE_KEY_TEMPLATE", "{prefix}/source={$.source}/{batch}{ext}");
    env.put("MILLRACE_BATCH_MAX_AGE_MS", "2000"); // every request below in one batch
    AtomicInteger calls = new AtomicInteger();
    List<String> expected = new ArrayList<>();
    try (IngestService s =
        IngestService.start(
            TestSupport.config(dir, env), null, real -> failingBad(real, calls, 8))) {
      // requests of "only" payloads (acknowledged as soon as their pieces are stored), then
      // requests that also hold a "bad" payload: those messages are given back, partly stored
      for (int r = 0; r < 8; r++) {
        StringBuilder sb = new StringBuilder("{\"payloads\":[");
        for (int i = 0; i < 6; i++) {
          String source = r < 4 ? "only" : i == 5 ? "bad" : "s" + i % 3;
          String p = "{\"source\":\"" + source + "\",\"r\":" + r + ",\"i\":" + i + "}";
          sb.append(i == 0 ? "" : ",").append(p);
          expected.add(p);
        }
        RawHttp.Response resp =
            RawHttp.post(s.port(), "application/json", utf8(sb.append("]}").toString()));
        assertThat(resp.status()).as("%s", resp).isEqualTo(202);
      }
      try (Connection nc = Nats.connect(TestSupport.NATS_URL)) {
        // while the bad piece is not stored, no message of its batch is acknowledged (deleted
        // from the work-queue stream): all eight stay there for the rebuild to find
        Awaitility.await()
            .atMost(Duration.ofSeconds(90))
            .pollInterval(Duration.ofMillis(20))
            .until(
                () -> {
                  boolean badStored = calls.get() > 8;
                  long left =
                      nc.jetStreamManagement().getStreamInfo(stream).getStreamState().getMsgCount();
                  if (!badStored) {
                    assertThat(left)
                        .as("messages in the stream before the bad piece is stored")
                        .isEqualTo(8);
                  }
                  return badStored && left == 0;
                });
      }
      assertThat(metric(s.port(), "millrace_nats_dead_lettered_messages_total")).isZero();
      assertThat(metric(s.port(), "millrace_nats_naks_total"))
          .as("the bad piece was given back at least once")
          .isPositive();
      try (S3Client s3 = TestSupport.client(s.embeddedStore())) {
        Map<String, List<String>> objects = TestSupport.readAll(s3, "millrace");
        Map<String, Integer> counts = TestSupport.payloadCounts(objects);
        assertThat(counts.keySet()).containsExactlyInAnyOrderElementsOf(expected);
        // before: every run stored 20 payloads twice (the rebuild of a partly acknowledged batch);
        // with the batch sent back whole but no stored record in the ledger, 5 runs in 25 (the
        // given-back messages came back in two pulls, the later ones rebuilt what was left)
        assertThat(counts)
            .as("each payload stored once")
            .allSatisfy((p, n) -> assertThat(n).isOne());
        for (var e : objects.entrySet()) {
          for (String line : e.getValue()) {
            Matcher m = SOURCE.matcher(line);
            assertThat(m.find()).isTrue();
            assertThat(e.getKey()).contains("/source=" + m.group(1) + "/");
          }
        }
      }
    }
  }
}
