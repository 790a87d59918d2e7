package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.metric;
import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.store.EmbeddedS3;
import io.millrace.ingest.testing.FaultProxy;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import io.millrace.pipeline.NoLeakedRunThreads;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Store faults between the service and a real S3Proxy: 503 SlowDown, 500, resets, stalls and
 * refused connections. Every accepted payload is still stored exactly once, and the retries show in
 * the metrics; with the store stalled the service pushes back (429, bounded bytes, not ready).
 */
@ExtendWith(NoLeakedRunThreads.class)
@Timeout(180)
class StoreFaultTest {
  @TempDir Path dir;

  record Rig(EmbeddedS3 s3, FaultProxy proxy, IngestService service) implements AutoCloseable {
    @Override
    public void close() throws Exception {
      proxy.fault(FaultProxy.Fault.NONE);
      service.shutdown();
      proxy.close();
      s3.close();
    }
  }

  Rig rig(Map<String, String> extra) throws Exception {
    EmbeddedS3 s3 = EmbeddedS3.start(dir.resolve("store"), 0);
    try (S3Client c = TestSupport.client(s3)) {
      c.createBucket(b -> b.bucket("millrace"));
    }
    FaultProxy proxy = new FaultProxy(s3.endpoint().getPort());
    Map<String, String> cfg =
        new java.util.HashMap<>(
            Map.of(
                "MILLRACE_S3_ENDPOINT", proxy.endpoint().toString(),
                "MILLRACE_S3_TIMEOUT_MS", "800",
                "MILLRACE_BATCH_MAX_PAYLOADS", "20",
                "MAX_WORKERS", "4"));
    cfg.putAll(extra);
    IngestService service =
        IngestService.start(
            TestSupport.config(dir.resolve("svc"), cfg),
            StaticCredentialsProvider.create(
                AwsBasicCredentials.create(EmbeddedS3.ACCESS_KEY, s3.secretKey())));
    return new Rig(s3, proxy, service);
  }

  static String body(int round, int request, Set<String> expected) {
    StringBuilder sb = new StringBuilder("{\"payloads\":[");
    for (int i = 0; i < 10; i++) {
      String p =
          "{\"round\":"
              + round
              + ",\"req\":"
              + request
              + ",\"i\":"
              + i
              + ",\"pad\":\""
              + "x".repeat(60)
              + "\"}";
      sb.append(i == 0 ? "" : ",").append(p);
      if (expected != null) {
        expected.add(p);
      }
    }
    return sb.append("]}").toString();
  }

  @Test
  void everyAcceptedPayloadIsStoredOnceThroughEveryKindOfFault() throws Exception {
    Set<String> expected = new HashSet<>();
    try (Rig rig = rig(Map.of())) {
      int port = rig.service().port();
      FaultProxy.Fault[] faults = {
        FaultProxy.Fault.SLOW_DOWN, FaultProxy.Fault.INTERNAL_ERROR, FaultProxy.Fault.RESET,
        FaultProxy.Fault.STALL, FaultProxy.Fault.REFUSE, FaultProxy.Fault.NONE
      };
      int round = 0;
      for (FaultProxy.Fault f : faults) {
        rig.proxy().fault(f);
        for (int r = 0; r < 10; r++) {
          var resp = RawHttp.post(port, "application/json", utf8(body(round, r, expected)));
          assertThat(resp.status()).as("%s", resp).isEqualTo(202);
        }
        Thread.sleep(f == FaultProxy.Fault.STALL ? 1500 : 700);
        round++;
      }
      rig.proxy().fault(FaultProxy.Fault.NONE);
      Awaitility.await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> rig.service().queue().budget().payloads() == 0);
      assertThat(rig.proxy().injected.get()).isGreaterThan(5);
      try (S3Client c = TestSupport.client(rig.s3())) {
        Map<String, Integer> counts = TestSupport.payloadCounts(TestSupport.readAll(c, "millrace"));
        assertThat(counts.keySet()).isEqualTo(expected);
        assertThat(counts.values()).containsOnly(1);
      }
      assertThat(metric(port, "millrace_upload_retries_total")).isGreaterThan(0);
      assertThat(metric(port, "millrace_s3_slowdowns_total")).isGreaterThan(0);
      assertThat(metric(port, "millrace_payloads_stored_total")).isEqualTo(expected.size());
    }
  }

  @Test
  void aStalledStoreMeans429WithRetryAfterBoundedBytesAndNotReady() throws Exception {
    long maxBytes = 32 * 1024;
    Set<String> accepted = new HashSet<>();
    try (Rig rig =
        rig(
            Map.of(
                "MILLRACE_QUEUE_MAX_BYTES",
                Long.toString(maxBytes),
                "MILLRACE_S3_TIMEOUT_MS",
                "2000"))) {
      int port = rig.service().port();
      rig.proxy().fault(FaultProxy.Fault.STALL);
      int rejected = 0;
      for (int r = 0; r < 200 && rejected < 20; r++) {
        Set<String> these = new HashSet<>();
        var resp = RawHttp.post(port, "application/json", utf8(body(0, r, these)));
        if (resp.status() == 202) {
          accepted.addAll(these);
        } else {
          assertThat(resp.status()).isEqualTo(429);
          assertThat(resp.header("retry-after")).isEqualTo("1");
          assertThat(resp.header("content-type")).isEqualTo("application/problem+json");
          rejected++;
        }
        double bytes = metric(port, "millrace_queue_bytes");
        assertThat(bytes).isLessThanOrEqualTo(maxBytes);
      }
      assertThat(rejected).isEqualTo(20);
      assertThat(metric(port, "millrace_queue_bytes")).isGreaterThan(maxBytes * 0.9);
      assertThat(RawHttp.get(port, "/readyz").status()).isEqualTo(503);
      assertThat(RawHttp.get(port, "/readyz").text()).contains("queue saturated");
      assertThat(RawHttp.get(port, "/healthz").status()).isEqualTo(200);

      rig.proxy().fault(FaultProxy.Fault.NONE);
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> rig.service().queue().budget().payloads() == 0);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> RawHttp.get(port, "/readyz").status() == 200);
      try (S3Client c = TestSupport.client(rig.s3())) {
        Map<String, Integer> counts = TestSupport.payloadCounts(TestSupport.readAll(c, "millrace"));
        assertThat(counts.keySet()).isEqualTo(accepted);
        assertThat(counts.values()).containsOnly(1);
      }
    }
  }
}
