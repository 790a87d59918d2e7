package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.queue.Job;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The wiring of key templates and compression into the workers: the defaults give exactly the keys
 * and the byte split of the code before templates ({@link LegacyObjectKeys}, {@link
 * LegacyEncoding}), a partitioned split is complete, ordered and deterministic, and bad settings
 * fail with the variable's name.
 */
class UploadLayoutTest {
  static final long SEED = 13;

  static Config config(Map<String, String> env) throws Exception {
    return Config.defaults().with(env);
  }

  static List<Job> jobs(Random rnd, int n, long startMillis, String idPrefix) {
    List<Job> jobs = new ArrayList<>(n);
    long t = startMillis;
    for (int i = 0; i < n; i++) {
      t += rnd.nextInt(3) == 0 ? rnd.nextInt(4_000_000) : 0;
      String payload =
          switch (rnd.nextInt(10)) {
            case 0 -> "{\"other\":1}";
            case 1 -> "[1,2]";
            case 2 -> "{\"source\":\"a/../b\",\"pad\":\"" + "x".repeat(rnd.nextInt(300)) + "\"}";
            default ->
                "{\"source\":\"src-"
                    + rnd.nextInt(99)
                    + "\",\"pad\":\""
                    + "y".repeat(rnd.nextInt(200))
                    + "\"}";
          };
      jobs.add(
          new Job(
              Job.id(idPrefix.getBytes(StandardCharsets.US_ASCII), i),
              t,
              payload.getBytes(StandardCharsets.UTF_8),
              null));
    }
    return jobs;
  }

  @Test
  void theDefaultTemplateRendersExactlyTodaysKeysInBothModes() throws Exception {
    Random rnd = new Random(SEED);
    for (String prefix : List.of("payloads", "", "a/b-c", "x.y_z")) {
      UploadLayout batched = UploadLayout.of(config(Map.of("MILLRACE_PREFIX", prefix)));
      UploadLayout single =
          UploadLayout.of(
              config(Map.of("MILLRACE_PREFIX", prefix, "MILLRACE_MODE", "per-payload")));
      LegacyObjectKeys today = new LegacyObjectKeys(prefix);
      for (int round = 0; round < 2_000; round++) {
        long start = rnd.nextLong(0, 253_402_300_799_000L); // 0000..9999 in epoch millis
        List<Job> batch = jobs(rnd, 1 + rnd.nextInt(5), Math.max(0, start - 5_000_000), "r0-");
        assertThat(batched.batchKey(KeyTemplate.Partition.NONE, batch))
            .isEqualTo(today.batch(batch));
        assertThat(single.singleKey(batch.getFirst())).isEqualTo(today.single(batch.getFirst()));
      }
    }
  }

  @Test
  void theDefaultSplitIsTodaysByteSplitSoTheKeysAreTodays() throws Exception {
    Random rnd = new Random(SEED);
    for (int round = 0; round < 300; round++) {
      long maxBytes = 1024 + rnd.nextInt(4000);
      Config c =
          config(
              Map.of(
                  "MILLRACE_BATCH_MAX_BYTES",
                  Long.toString(maxBytes),
                  "MILLRACE_BATCH_MAX_PAYLOADS",
                  "5000"));
      UploadLayout layout = UploadLayout.of(c);
      RangeSplit split = new RangeSplit(layout.template(), 5000, maxBytes, 1000);
      List<Job> range = jobs(rnd, 1 + rnd.nextInt(200), 1_700_000_000_000L, "d-");
      List<List<Job>> today = LegacyEncoding.splitByBytes(range, maxBytes);
      List<RangeSplit.Piece> pieces = split.split(range);
      assertThat(pieces).hasSameSizeAs(today);
      LegacyObjectKeys keys = new LegacyObjectKeys("payloads");
      for (int i = 0; i < pieces.size(); i++) {
        assertThat(pieces.get(i).jobs()).containsExactlyElementsOf(today.get(i));
        assertThat(layout.batchKey(pieces.get(i).partition(), pieces.get(i).jobs()))
            .isEqualTo(keys.batch(today.get(i)));
      }
    }
  }

  @Test
  void aPartitionedSplitHoldsEveryJobOnceInOrderOnePartitionPerObjectAndRepeatsItself()
      throws Exception {
    Random rnd = new Random(SEED);
    String template = "{prefix}/source={$.source}/dt={date}/hour={hour}/{batch}{ext}";
    for (int open : new int[] {1, 4, 1000}) {
      UploadLayout layout =
          UploadLayout.of(
              config(
                  Map.of(
                      "MILLRACE_KEY_TEMPLATE",
                      template,
                      "MILLRACE_COMPRESSION",
                      "zstd",
                      "MILLRACE_BATCH_MAX_OPEN_PARTITIONS",
                      Integer.toString(open))));
      assertThat(layout.partitioned()).isTrue();
      RangeSplit split = new RangeSplit(layout.template(), 50, 4096, open);
      for (int round = 0; round < 50; round++) {
        List<Job> range = jobs(rnd, 1 + rnd.nextInt(3000), 1_700_000_000_000L, "p" + round + "-");
        List<RangeSplit.Piece> pieces = split.split(range);
        Set<Job> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<String> keys = new HashSet<>();
        for (RangeSplit.Piece p : pieces) {
          assertThat(p.jobs()).isNotEmpty().hasSizeLessThanOrEqualTo(50);
          long bytes = 0;
          for (Job j : p.jobs()) {
            assertThat(seen.add(j)).as("a job in two objects").isTrue();
            assertThat(layout.template().partition(j.payload())).isEqualTo(p.partition());
            bytes += j.payload().length + 1;
          }
          assertThat(bytes <= 4096 || p.jobs().size() == 1).isTrue();
          // in queue order within the object
          for (int i = 1; i < p.jobs().size(); i++) {
            assertThat(range.indexOf(p.jobs().get(i)))
                .isGreaterThan(range.indexOf(p.jobs().get(i - 1)));
          }
          String key = layout.batchKey(p.partition(), p.jobs());
          assertThat(key)
              .startsWith("payloads/source=" + p.partition().values().getFirst() + "/dt=")
              .endsWith(".ndjson.zst")
              .doesNotContain("/../");
          assertThat(keys.add(key)).as("two objects share key %s", key).isTrue();
        }
        assertThat(seen).hasSize(range.size());
        // the same range splits the same way: same objects, same keys
        List<RangeSplit.Piece> again = split.split(new ArrayList<>(range));
        assertThat(again).hasSameSizeAs(pieces);
        for (int i = 0; i < pieces.size(); i++) {
          assertThat(again.get(i).jobs()).containsExactlyElementsOf(pieces.get(i).jobs());
          assertThat(layout.batchKey(again.get(i).partition(), again.get(i).jobs()))
              .isEqualTo(layout.batchKey(pieces.get(i).partition(), pieces.get(i).jobs()));
        }
      }
    }
  }

  @Test
  void payloadsWithoutTheFieldGoToTheMissingPartitionAndUnsafeValuesAreEncoded() throws Exception {
    UploadLayout layout =
        UploadLayout.of(
            config(
                Map.of(
                    "MILLRACE_MODE", "per-payload",
                    "MILLRACE_KEY_TEMPLATE", "{prefix}/t={$.type}/{id}{ext}")));
    Job missing = new Job("m-1", 0, "{\"x\":1}".getBytes(StandardCharsets.UTF_8), null);
    Job climbing = new Job("m-2", 0, "{\"type\":\"..\"}".getBytes(StandardCharsets.UTF_8), null);
    Job slash = new Job("m-3", 0, "{\"type\":\"a/b\"}".getBytes(StandardCharsets.UTF_8), null);
    assertThat(layout.singleKey(missing)).isEqualTo("payloads/t=__missing__/m-1.json");
    assertThat(layout.singleKey(climbing)).isEqualTo("payloads/t=%2E%2E/m-2.json");
    assertThat(layout.singleKey(slash)).isEqualTo("payloads/t=a%2Fb/m-3.json");
  }

  @Test
  void aBadTemplateFailsWithTheVariableThePositionAndWhatWasExpected() {
    assertThatThrownBy(
            () -> UploadLayout.of(config(Map.of("MILLRACE_KEY_TEMPLATE", "{prefix}/{$.}/{batch}"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("MILLRACE_KEY_TEMPLATE")
        .hasMessageContaining("at position 13")
        .hasMessageContaining("expected a field name");
    assertThatThrownBy(
            () ->
                UploadLayout.of(
                    config(
                        Map.of(
                            "MILLRACE_KEY_TEMPLATE", "{prefix}/dt={date}/{batch}.ndjson.gz",
                            "MILLRACE_COMPRESSION", "zstd"))))
        .hasMessageContaining("MILLRACE_KEY_TEMPLATE")
        .hasMessageContaining("write {ext}");
    assertThatThrownBy(
            () ->
                UploadLayout.of(
                    config(
                        Map.of(
                            "MILLRACE_MODE", "per-payload",
                            "MILLRACE_KEY_TEMPLATE", "{prefix}/{batch}{ext}"))))
        .hasMessageContaining("per-payload mode")
        .hasMessageContaining("{id}");
  }

  @Test
  void theCompressionSetsTheSuffixAndTheContentEncoding() throws Exception {
    for (var c : List.of("gzip", "zstd", "none")) {
      UploadLayout layout = UploadLayout.of(config(Map.of("MILLRACE_COMPRESSION", c)));
      Job j = new Job("c-1", 0, "{}".getBytes(StandardCharsets.UTF_8), null);
      String key = layout.batchKey(KeyTemplate.Partition.NONE, List.of(j));
      switch (c) {
        case "gzip" -> {
          assertThat(key).endsWith("/c-1-1.ndjson.gz");
          assertThat(layout.batchContentEncoding()).isEqualTo("gzip");
        }
        case "zstd" -> {
          assertThat(key).endsWith("/c-1-1.ndjson.zst");
          assertThat(layout.batchContentEncoding()).isEqualTo("zstd");
        }
        default -> {
          assertThat(key).endsWith("/c-1-1.ndjson");
          assertThat(layout.batchContentEncoding()).isNull();
        }
      }
    }
    assertThatThrownBy(() -> config(Map.of("MILLRACE_COMPRESSION", "brotli")))
        .hasMessageContaining("MILLRACE_COMPRESSION");
  }
}
