package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.metric;
import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.store.EmbeddedS3;
import io.millrace.ingest.testing.FaultProxy;
import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import io.millrace.pipeline.NoLeakedRunThreads;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The upload path wired into the service (issue 13): keys from a payload field, zstd objects with
 * their Content-Encoding, and the adaptive upload limit against a store that slows down and
 * recovers (through the fault-injecting proxy, in real time). Exact accounting: every accepted
 * payload stored once.
 */
@ExtendWith(NoLeakedRunThreads.class)
@Timeout(180)
class UploadPathTest {
  @TempDir Path dir;

  static final Pattern SOURCE = Pattern.compile("\"source\":\"([^\"]*)\"");

  @Test
  void aFieldTemplateCutsObjectsPerValueInZstdAndStoresEveryPayloadOnce() throws Exception {
    Set<String> expected = new HashSet<>();
    Config cfg =
        TestSupport.config(
            dir,
            Map.of(
                "MILLRACE_KEY_TEMPLATE",
                "{prefix}/source={$.source}/dt={date}/hour={hour}/{batch}{ext}",
                "MILLRACE_COMPRESSION",
                "zstd",
                "MILLRACE_BATCH_MAX_PAYLOADS",
                "7",
                "MILLRACE_BATCH_MAX_OPEN_PARTITIONS",
                "3"));
    try (IngestService service = IngestService.start(cfg)) {
      postAccepted(
          service,
          400,
          n -> {
            String source =
                switch (n % 9) {
                  case 0 -> "";
                  case 1 -> "../up";
                  default -> "s" + n % 7;
                };
            return source.isEmpty()
                ? "{\"n\":" + n + "}"
                : "{\"source\":\"" + source + "\",\"n\":" + n + "}";
          },
          expected);
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> service.queue().budget().payloads() == 0);
      try (S3Client c = TestSupport.client(service.embeddedStore())) {
        Map<String, List<String>> objects = TestSupport.readAll(c, "millrace");
        Map<String, Integer> counts = TestSupport.payloadCounts(objects);
        assertThat(counts.keySet()).isEqualTo(expected);
        assertThat(counts.values()).containsOnly(1);
        Pattern key =
            Pattern.compile(
                "payloads/source=([A-Za-z0-9._%-]+)/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/"
                    + "[a-z0-9]+-([0-9a-f]{12}-\\d+|\\d{20}-\\d{20})(-\\d+)?\\.ndjson\\.zst");
        for (var e : objects.entrySet()) {
          Matcher m = key.matcher(e.getKey());
          assertThat(m.matches()).as("key %s", e.getKey()).isTrue();
          assertThat(e.getValue()).hasSizeLessThanOrEqualTo(7);
          for (String line : e.getValue()) {
            Matcher s = SOURCE.matcher(line);
            String want = s.find() ? s.group(1).replace("/", "%2F") : "__missing__";
            assertThat(m.group(1)).as("%s in %s", line, e.getKey()).isEqualTo(want);
          }
        }
        assertThat(objects.keySet())
            .anyMatch(k -> k.contains("source=__missing__/"))
            .anyMatch(k -> k.contains("source=..%2Fup/"));
        String one = objects.keySet().iterator().next();
        var head = c.headObject(b -> b.bucket("millrace").key(one));
        assertThat(head.contentEncoding()).isEqualTo("zstd");
        assertThat(head.contentType()).isEqualTo("application/x-ndjson");
      }
    }
  }

  /**
   * Posts payloads 0..count-1 ({@code payload.apply(n)}), ten per request, each request answered
   * 202; adds each payload to {@code accepted}.
   */
  static void postAccepted(
      IngestService service,
      int count,
      java.util.function.IntFunction<String> payload,
      Set<String> accepted)
      throws Exception {
    for (int r = 0; r * 10 < count; r++) {
      StringBuilder sb = new StringBuilder("{\"payloads\":[");
      for (int n = r * 10; n < Math.min(count, r * 10 + 10); n++) {
        String p = payload.apply(n);
        sb.append(n == r * 10 ? "" : ",").append(p);
        accepted.add(p);
      }
      var resp = RawHttp.post(service.port(), "application/json", utf8(sb.append("]}").toString()));
      assertThat(resp.status()).as("%s", resp).isEqualTo(202);
    }
  }

  /**
   * A partitioned range never outgrows half of what the local log hands out before an
   * acknowledgement ({@code MAX_WORKERS + 2} batches: 21 payloads here). Before, the range was
   * sized by {@code MAX_QUEUE} alone (700 payloads here), the log stopped handing out at 21, and
   * the range was cut only when it came of age (a minute here; a second by default, so throughput
   * fell to one in-flight bound per second, BENCHMARKS.md U8). Every payload must be stored,
   * exactly once, long before that.
   */
  @Test
  void aPartitionedRangeIsCutBeforeTheLogStopsHandingOutNotByAge() throws Exception {
    Set<String> expected = new HashSet<>();
    Config cfg =
        TestSupport.config(
            dir,
            Map.of(
                "MILLRACE_KEY_TEMPLATE",
                "{prefix}/source={$.source}/{batch}{ext}",
                "MAX_WORKERS",
                "1",
                "MILLRACE_BATCH_MAX_PAYLOADS",
                "7",
                "MILLRACE_BATCH_MAX_OPEN_PARTITIONS",
                "100",
                "MILLRACE_BATCH_MAX_AGE_MS",
                "60000"));
    try (IngestService service = IngestService.start(cfg)) {
      postAccepted(service, 200, n -> "{\"source\":\"s" + n % 5 + "\",\"n\":" + n + "}", expected);
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> service.queue().budget().payloads() == 0);
      try (S3Client c = TestSupport.client(service.embeddedStore())) {
        Map<String, Integer> counts = TestSupport.payloadCounts(TestSupport.readAll(c, "millrace"));
        assertThat(counts.keySet()).isEqualTo(expected);
        assertThat(counts.values()).containsOnly(1);
      }
    }
  }

  /**
   * Per-payload uploads (one PUT each, so the limit is what holds them back) through the proxy:
   * with a fast store the limit climbs towards the ceiling; when every answer takes 300 ms more it
   * falls within seconds; when the store is fast again it climbs back; sampled every 20 ms it is
   * never above the ceiling. Then every accepted payload is stored exactly once.
   */
  @Test
  void theUploadLimitFallsWhenTheStoreSlowsAndClimbsBackNeverAboveTheCeiling() throws Exception {
    int ceiling = 24;
    EmbeddedS3 s3 = EmbeddedS3.start(dir.resolve("store"), 0);
    try (S3Client c = TestSupport.client(s3)) {
      c.createBucket(b -> b.bucket("millrace"));
    }
    FaultProxy proxy = new FaultProxy(s3.endpoint().getPort());
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_S3_ENDPOINT", proxy.endpoint().toString());
    env.put("MILLRACE_MODE", "per-payload");
    env.put("MAX_WORKERS", Integer.toString(ceiling));
    env.put("MAX_QUEUE", "4000");
    IngestService service =
        IngestService.start(
            TestSupport.config(dir.resolve("svc"), env),
            StaticCredentialsProvider.create(
                AwsBasicCredentials.create(EmbeddedS3.ACCESS_KEY, s3.secretKey())));
    AtomicInteger highest = new AtomicInteger();
    List<Integer> timeline = new java.util.concurrent.CopyOnWriteArrayList<>();
    AtomicBoolean sampling = new AtomicBoolean(true);
    int port = service.port();
    Thread sampler =
        Thread.ofPlatform()
            .daemon()
            .start(
                () -> {
                  while (sampling.get()) {
                    try {
                      int now = (int) metric(port, "millrace_upload_concurrency_limit");
                      highest.accumulateAndGet(now, Math::max);
                      timeline.add(now);
                      Thread.sleep(20);
                    } catch (Exception e) {
                      return;
                    }
                  }
                });
    LoadClient load =
        new LoadClient(List.of(port), 4, 5, 2_000_000, "ac", 0, Duration.ofSeconds(60));
    try {
      load.start();
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> metric(port, "millrace_upload_concurrency_limit") >= ceiling - 4);
      proxy.latency(Duration.ofMillis(300));
      long slowAt = System.nanoTime();
      Awaitility.await()
          .atMost(Duration.ofSeconds(8))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> metric(port, "millrace_upload_concurrency_limit") <= ceiling / 3);
      long fellMs = (System.nanoTime() - slowAt) / 1_000_000;
      String cuts =
          "millrace_upload_concurrency_limit_changes_total{direction=\"down\",reason=\"latency\"}";
      assertThat(metric(port, cuts)).isGreaterThan(0);
      proxy.latency(Duration.ZERO);
      long fastAt = System.nanoTime();
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> metric(port, "millrace_upload_concurrency_limit") >= ceiling - 4);
      long climbedMs = (System.nanoTime() - fastAt) / 1_000_000;
      System.out.println("limit every ~20 ms: " + timeline);
      System.out.printf(
          "adaptive limit: fell to <= %d in %d ms, back to >= %d in %d ms%n",
          ceiling / 3, fellMs, ceiling - 4, climbedMs);
      load.stop();
      load.await(Duration.ofSeconds(60));
      load.checkNoFailure();
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> service.queue().budget().payloads() == 0);
      sampling.set(false);
      sampler.join(5000);
      assertThat(highest.get()).isBetween(ceiling - 4, ceiling);
      try (S3Client c = TestSupport.client(s3)) {
        Map<String, Integer> counts = TestSupport.payloadCounts(TestSupport.readAll(c, "millrace"));
        Set<String> expected = new HashSet<>();
        for (String id : load.accepted()) {
          expected.add(LoadClient.payload(id));
        }
        assertThat(counts.keySet()).isEqualTo(expected);
        assertThat(counts.values()).containsOnly(1);
      }
    } finally {
      sampling.set(false);
      load.close();
      proxy.latency(Duration.ZERO);
      service.shutdown();
      proxy.close();
      s3.close();
    }
  }
}
