package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import io.millrace.pipeline.NoLeakedRunThreads;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Everything accepted is in the store exactly once, byte for byte as sent (compacted), under the
 * keys of the storage layout: read back through the S3 API, in both modes.
 */
@ExtendWith(NoLeakedRunThreads.class)
@Timeout(180)
class ReadBackTest {
  @TempDir Path dir;

  /** The payload as a client might send it (with whitespace), and as it must be stored. */
  record Sample(String sent, String stored) {}

  static Sample sample(int client, int request, int i) {
    String id = client + "-" + request + "-" + i;
    return switch (i % 5) {
      case 0 ->
          new Sample(
              "{ \"id\" : \"" + id + "\", \"n\": [1, 2.50, -3e2] }",
              "{\"id\":\"" + id + "\",\"n\":[1,2.50,-3e2]}");
      case 1 ->
          new Sample(
              "{\"id\":\"" + id + "\",\"s\":\"spaces  inside \\\" \\\\ \\n kept\"}",
              "{\"id\":\"" + id + "\",\"s\":\"spaces  inside \\\" \\\\ \\n kept\"}");
      case 2 ->
          new Sample("[\"" + id + "\", {\"u\": \"é😀 ü\"}]", "[\"" + id + "\",{\"u\":\"é😀 ü\"}]");
      case 3 -> new Sample("\"" + id + " plain string\"", "\"" + id + " plain string\"");
      default ->
          new Sample(
              "{\"id\":\"" + id + "\",\"deep\":{\"a\":{\"b\":{\"c\":[true,false,null]}}}}",
              "{\"id\":\"" + id + "\",\"deep\":{\"a\":{\"b\":{\"c\":[true,false,null]}}}}");
    };
  }

  private static final Pattern LOG_RANGE = Pattern.compile("-(\\d{20})-(\\d{20})\\.ndjson\\.gz$");

  @ParameterizedTest
  @CsvSource({"batched,disk", "per-payload,disk", "batched,memory", "per-payload,memory"})
  void everyAcceptedPayloadIsStoredExactlyOnceAsSent(String mode, String queue) throws Exception {
    int clients = 4;
    int requests = mode.equals("batched") ? 60 : 15;
    int perRequest = 10;
    try (IngestService s =
        IngestService.start(
            TestSupport.config(
                dir,
                Map.of(
                    "MILLRACE_MODE", mode,
                    "MILLRACE_QUEUE", queue,
                    "MILLRACE_BATCH_MAX_PAYLOADS", "50",
                    "MILLRACE_BATCH_MAX_BYTES", "4096",
                    "MAX_WORKERS", "8")))) {
      int port = s.port();
      Set<String> expected = ConcurrentHashMap.newKeySet();
      ExecutorService pool = Executors.newFixedThreadPool(clients);
      List<Future<?>> futures = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        int client = c;
        futures.add(
            pool.submit(
                () -> {
                  for (int r = 0; r < requests; r++) {
                    List<Sample> samples = new ArrayList<>();
                    for (int i = 0; i < perRequest; i++) {
                      samples.add(sample(client, r, i));
                    }
                    RawHttp.Response resp =
                        switch (r % 3) {
                          case 0 ->
                              RawHttp.post(
                                  port,
                                  "application/json",
                                  utf8(
                                      "{\"payloads\": [\n  "
                                          + String.join(
                                              ",\n  ", samples.stream().map(Sample::sent).toList())
                                          + "\n]}"));
                          case 1 ->
                              RawHttp.post(
                                  port,
                                  "application/x-ndjson",
                                  utf8(
                                      String.join("\n", samples.stream().map(Sample::sent).toList())
                                          + "\n"));
                          default ->
                              RawHttp.post(
                                  port,
                                  "application/json",
                                  TestSupport.gzip(
                                      utf8(
                                          "{\"payloads\":["
                                              + String.join(
                                                  ",", samples.stream().map(Sample::sent).toList())
                                              + "]}")),
                                  Map.of("Content-Encoding", "gzip"));
                        };
                    assertThat(resp.status()).as("%s", resp).isEqualTo(202);
                    samples.forEach(x -> expected.add(x.stored()));
                  }
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        f.get();
      }
      pool.shutdown();
      int total = clients * requests * perRequest;
      assertThat(expected).hasSize(total);
      Awaitility.await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> s.queue().budget().payloads() == 0);

      try (S3Client s3 = TestSupport.client(s.embeddedStore())) {
        Map<String, List<String>> objects = TestSupport.readAll(s3, "millrace");
        Map<String, Integer> counts = TestSupport.payloadCounts(objects);
        assertThat(counts.keySet()).isEqualTo(expected);
        assertThat(counts.values()).containsOnly(1);
        Set<String> keys = new HashSet<>(objects.keySet());
        if (mode.equals("batched")) {
          assertThat(keys)
              .allMatch(k -> TestSupport.BATCH_KEY.matcher(k).matches(), "batch key layout");
          for (var e : objects.entrySet()) {
            List<String> lines = e.getValue();
            assertThat(lines.size()).isBetween(1, 50);
            // the key names the first payload's id and the count, or the batch's log positions
            Matcher range = LOG_RANGE.matcher(e.getKey());
            if (queue.equals("disk")) {
              assertThat(range.find()).as(e.getKey()).isTrue();
              assertThat(Long.parseLong(range.group(2)) - Long.parseLong(range.group(1)) + 1)
                  .isEqualTo(lines.size());
            } else {
              assertThat(e.getKey()).endsWith("-" + lines.size() + ".ndjson.gz");
            }
            long bytes =
                lines.stream().mapToLong(l -> l.getBytes(StandardCharsets.UTF_8).length + 1).sum();
            if (lines.size() > 1) {
              assertThat(bytes).isLessThanOrEqualTo(4096);
            }
          }
          assertThat(objects.size()).isLessThan(total / 4); // batching did batch
        } else {
          assertThat(keys)
              .allMatch(k -> TestSupport.SINGLE_KEY.matcher(k).matches(), "per-payload key layout");
          assertThat(objects).hasSize(total);
        }
      }
      String metrics = RawHttp.get(port, "/metrics").text();
      assertThat(metrics).contains("millrace_payloads_stored_total " + (double) total);
      assertThat(metrics).contains("millrace_payloads_accepted_total " + (double) total);
    }
  }
}
