package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.BlackHole;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import io.millrace.pipeline.NoLeakedRunThreads;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Shutdown with the store down spills what was not stored; the next start replays it; every
 * accepted payload ends up stored exactly once.
 */
@ExtendWith(NoLeakedRunThreads.class)
@Timeout(120)
class SpillReplayTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"batched", "per-payload"})
  void whatShutdownCouldNotStoreIsSpilledAndReplayedOnce(String mode) throws Exception {
    Set<String> expected = new HashSet<>();
    IngestService.ShutdownReport report;
    try (BlackHole down = new BlackHole()) {
      IngestService first =
          IngestService.start(
              TestSupport.config(
                  dir,
                  Map.of(
                      "MILLRACE_MODE", mode,
                      "MILLRACE_QUEUE", "memory",
                      "MILLRACE_BATCH_MAX_PAYLOADS", "7",
                      "MILLRACE_S3_ENDPOINT", down.endpoint().toString(),
                      "MILLRACE_S3_TIMEOUT_MS", "60000",
                      "MILLRACE_DRAIN_TIMEOUT_MS", "500")),
              StaticCredentialsProvider.create(AwsBasicCredentials.create("a", "b")));
      for (int r = 0; r < 10; r++) {
        StringBuilder sb = new StringBuilder("{\"payloads\":[");
        for (int i = 0; i < 5; i++) {
          String p = "{\"r\":" + r + ",\"i\":" + i + ",\"t\":\"spill me\"}";
          sb.append(i == 0 ? "" : ",").append(p);
          expected.add(p);
        }
        sb.append("]}");
        assertThat(RawHttp.post(first.port(), "application/json", utf8(sb.toString())).status())
            .isEqualTo(202);
      }
      Thread.sleep(300); // let batches form and uploads hang
      report = first.shutdown();
    }
    assertThat(report.spilled()).isEqualTo(50);
    assertThat(report.drained()).isFalse();
    Path spill = dir.resolve("spill");
    try (var files = Files.list(spill)) {
      List<Path> list = files.toList();
      assertThat(list).isNotEmpty().allMatch(p -> p.toString().endsWith(".ndjson"));
      if (mode.equals("batched")) {
        assertThat(list).anyMatch(p -> p.getFileName().toString().startsWith("group-"));
      }
    }

    // next start: embedded store, same data folder
    try (IngestService second =
        IngestService.start(
            TestSupport.config(dir, Map.of("MILLRACE_MODE", mode, "MILLRACE_QUEUE", "memory")))) {
      assertThat(second.replayedPayloads()).isEqualTo(50);
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> second.queue().budget().payloads() == 0);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                try (var files = Files.list(spill)) {
                  return files.findAny().isEmpty();
                }
              });
      try (S3Client s3 = TestSupport.client(second.embeddedStore())) {
        Map<String, Integer> counts =
            TestSupport.payloadCounts(TestSupport.readAll(s3, "millrace"));
        assertThat(counts.keySet()).isEqualTo(expected);
        assertThat(counts.values()).containsOnly(1);
      }
    }
  }
}
