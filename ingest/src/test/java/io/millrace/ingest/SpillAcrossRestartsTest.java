package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.store.EmbeddedS3;
import io.millrace.ingest.testing.FaultProxy;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.ServiceProcess;
import io.millrace.ingest.testing.TestSupport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The store stays down across restarts (batched mode, in-memory queue, the service in child JVMs
 * behind a fault proxy in front of a real S3Proxy): every run ends with SIGTERM while uploads
 * stall, so each one spills what it holds, replayed groups included, and the next replays it. After
 * every such run the spill folder holds exactly the accepted payloads, once each; once the store is
 * back, one more start stores every accepted payload exactly once and empties the folder.
 */
@Timeout(240)
class SpillAcrossRestartsTest {
  @TempDir Path dir;

  @ParameterizedTest(name = "{0} runs end with the store down")
  @ValueSource(ints = {2, 3})
  void everythingIsStoredOnceWhenTheStoreComesBack(int runsWhileDown) throws Exception {
    try (EmbeddedS3 s3 = EmbeddedS3.start(dir.resolve("store"), 0);
        FaultProxy proxy = new FaultProxy(s3.endpoint().getPort())) {
      try (S3Client c = TestSupport.client(s3)) {
        c.createBucket(b -> b.bucket("millrace"));
      }
      Path data = dir.resolve("svc");
      Map<String, String> env = new HashMap<>();
      env.put("MILLRACE_HOST", "127.0.0.1");
      env.put("MILLRACE_PORT", "0");
      env.put("MILLRACE_DATA_DIR", data.toString());
      env.put("MILLRACE_QUEUE", "memory");
      env.put("MILLRACE_S3_ENDPOINT", proxy.endpoint().toString());
      env.put("MILLRACE_S3_TIMEOUT_MS", "1000");
      env.put("MILLRACE_DRAIN_TIMEOUT_MS", "500");
      env.put("MILLRACE_BATCH_MAX_PAYLOADS", "10");
      env.put("MILLRACE_BATCH_MAX_AGE_MS", "50");
      env.put("AWS_ACCESS_KEY_ID", EmbeddedS3.ACCESS_KEY);
      env.put("AWS_SECRET_ACCESS_KEY", s3.secretKey());
      env.put("AWS_REGION", "us-east-1");

      proxy.fault(FaultProxy.Fault.STALL);
      Set<String> accepted = new HashSet<>();
      for (int run = 0; run < runsWhileDown; run++) {
        try (ServiceProcess p = ServiceProcess.start("down-" + run, dir, env)) {
          if (run == 0) {
            for (int k = 0; k < 5; k++) {
              List<String> payloads = new ArrayList<>();
              for (int i = 0; i < 10; i++) {
                payloads.add("{\"k\":" + k + ",\"i\":" + i + "}");
              }
              var r =
                  RawHttp.post(
                      p.port(),
                      "application/json",
                      utf8("{\"payloads\":[" + String.join(",", payloads) + "]}"));
              assertThat(r.status()).as("%s", r).isEqualTo(202);
              accepted.addAll(payloads);
            }
          }
          Thread.sleep(500); // batches form (or are replayed) and their uploads stall
          p.sigterm();
          p.waitFor(Duration.ofSeconds(60));
          assertThat(spilled(data))
              .as("payloads in spill files after run %d; log:%n%s", run, p.logs())
              .containsOnlyKeys(accepted)
              .allSatisfy((payload, n) -> assertThat(n).as(payload).isEqualTo(1));
        }
      }

      proxy.fault(FaultProxy.Fault.NONE);
      try (ServiceProcess p = ServiceProcess.start("up", dir, env)) {
        Awaitility.await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(100))
            .until(() -> p.metric("millrace_queue_payloads") == 0 && spilled(data).isEmpty());
        assertThat(p.metric("millrace_payloads_replayed_total")).isEqualTo(accepted.size());
        p.sigterm();
        p.waitFor(Duration.ofSeconds(60));
      }
      try (S3Client c = TestSupport.client(s3)) {
        Map<String, Integer> counts = TestSupport.payloadCounts(TestSupport.readAll(c, "millrace"));
        assertThat(counts.keySet()).as("stored").isEqualTo(accepted);
        assertThat(counts.values()).as("each once").containsOnly(1);
      }
    }
  }

  /**
   * {@return each payload in the spill files, with how often it occurs; lines are {@code
   * {"id":..,"at":..,"payload":<payload>}}}
   */
  static Map<String, Integer> spilled(Path data) throws IOException {
    Map<String, Integer> counts = new HashMap<>();
    Path spill = data.resolve("spill");
    if (!Files.isDirectory(spill)) {
      return counts;
    }
    List<Path> files;
    try (var list = Files.list(spill)) {
      files = list.filter(f -> f.getFileName().toString().endsWith(".ndjson")).toList();
    }
    for (Path f : files) {
      for (String line : Files.readAllLines(f)) {
        int at = line.indexOf(",\"payload\":");
        if (at > 0) {
          counts.merge(line.substring(at + 11, line.length() - 1), 1, Integer::sum);
        }
      }
    }
    return counts;
  }
}
