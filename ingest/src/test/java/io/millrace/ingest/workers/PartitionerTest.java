package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.workers.KeyTemplate.Partition;
import io.millrace.ingest.workers.KeyTemplate.Unit;
import io.millrace.ingest.workers.Partitioner.Batch;
import io.millrace.ingest.workers.Partitioner.Cut;
import io.millrace.ingest.workers.Partitioner.Limits;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PartitionerTest {
  private static final long MS = 1_000_000L;

  private static Limits limits(int payloads, long bytes, long ageMs, int open) {
    return new Limits(payloads, bytes, ageMs * MS, open);
  }

  @Test
  void aPartitionIsCutWhenItHoldsMaxPayloads() {
    Partitioner<String, Integer> p = new Partitioner<>(limits(3, 1000, 1000, 10));
    assertThat(p.add("a", 1, 10, 0)).isEmpty();
    assertThat(p.add("b", 2, 10, 0)).isEmpty();
    assertThat(p.add("a", 3, 10, 0)).isEmpty();
    List<Batch<String, Integer>> cut = p.add("a", 4, 10, 0);
    assertThat(cut)
        .singleElement()
        .satisfies(
            b -> {
              assertThat(b.partition()).isEqualTo("a");
              assertThat(b.items()).containsExactly(1, 3, 4);
              assertThat(b.bytes()).isEqualTo(33);
              assertThat(b.cut()).isEqualTo(Cut.PAYLOADS);
            });
    assertThat(p.openPartitions()).isEqualTo(1);
    assertThat(p.heldItems()).isEqualTo(1);
    assertThat(p.heldBytes()).isEqualTo(11);
  }

  @Test
  void aBatchIsCutBeforeAPayloadWouldTakeItOverMaxBytes() {
    Partitioner<String, Integer> p = new Partitioner<>(limits(100, 100, 1000, 10));
    assertThat(p.add("a", 1, 59, 0)).isEmpty(); // 60 with its newline
    List<Batch<String, Integer>> cut = p.add("a", 2, 59, 0);
    assertThat(cut)
        .singleElement()
        .satisfies(
            b -> {
              assertThat(b.items()).containsExactly(1);
              assertThat(b.cut()).isEqualTo(Cut.BYTES);
            });
    // exactly at the limit: cut at once, nothing waits for the next payload
    assertThat(p.add("a", 3, 39, 0))
        .singleElement()
        .satisfies(b -> assertThat(b.items()).containsExactly(2, 3));
    // a payload larger than the limit alone is a batch of one
    assertThat(p.add("a", 4, 500, 0))
        .singleElement()
        .satisfies(
            b -> {
              assertThat(b.items()).containsExactly(4);
              assertThat(b.bytes()).isEqualTo(501);
            });
    assertThat(p.openPartitions()).isZero();
  }

  @Test
  void aBatchIsCutWhenItIsMaxAgeOldFromItsFirstPayload() {
    Partitioner<String, Integer> p = new Partitioner<>(limits(100, 10_000, 50, 10));
    assertThat(p.nextAgeDeadline()).isEqualTo(Long.MAX_VALUE);
    p.add("a", 1, 1, 0);
    p.add("b", 2, 1, 10 * MS);
    p.add("a", 3, 1, 40 * MS);
    assertThat(p.nextAgeDeadline()).isEqualTo(50 * MS);
    assertThat(p.cutAged(49 * MS)).isEmpty();
    assertThat(p.cutAged(50 * MS))
        .singleElement()
        .satisfies(
            b -> {
              assertThat(b.items()).containsExactly(1, 3);
              assertThat(b.cut()).isEqualTo(Cut.AGE);
            });
    assertThat(p.nextAgeDeadline()).isEqualTo(60 * MS);
    p.add("a", 4, 1, 55 * MS);
    assertThat(p.cutAged(200 * MS)).extracting(Batch::partition).containsExactly("b", "a");
  }

  @Test
  void openingAPartitionBeyondTheBoundCutsTheOldestOpenBatch() {
    Partitioner<String, Integer> p = new Partitioner<>(limits(100, 10_000, 1000, 3));
    p.add("a", 1, 1, 0);
    p.add("b", 2, 1, 0);
    p.add("c", 3, 1, 0);
    p.add("a", 4, 1, 0); // an open partition: no eviction
    assertThat(p.add("d", 5, 1, 0))
        .singleElement()
        .satisfies(
            b -> {
              assertThat(b.partition()).isEqualTo("a"); // opened first, whatever was added last
              assertThat(b.items()).containsExactly(1, 4);
              assertThat(b.cut()).isEqualTo(Cut.EVICTED);
            });
    assertThat(p.add("e", 6, 1, 0)).extracting(Batch::partition).containsExactly("b");
    assertThat(p.openPartitions()).isEqualTo(3);
    assertThat(p.flush()).extracting(Batch::partition).containsExactly("c", "d", "e");
    assertThat(p.openPartitions()).isZero();
    assertThat(p.heldItems()).isZero();
    assertThat(p.heldBytes()).isZero();
  }

  @Test
  void anExplicitCutTakesOnePartitionsBatch() {
    Partitioner<String, Integer> p = new Partitioner<>(limits(100, 10_000, 1000, 3));
    p.add("a", 1, 1, 0);
    p.add("b", 2, 1, 0);
    assertThat(p.cut("a"))
        .hasValueSatisfying(
            b -> {
              assertThat(b.items()).containsExactly(1);
              assertThat(b.cut()).isEqualTo(Cut.EXPLICIT);
            });
    assertThat(p.cut("a")).isEmpty();
    assertThat(p.cut("zzz")).isEmpty();
    assertThat(p.openPartitions()).isEqualTo(1);
  }

  @Test
  void limitsMustBeAtLeastOne() {
    assertThatThrownBy(() -> new Limits(0, 1, 1, 1)).hasMessageContaining("maxPayloads");
    assertThatThrownBy(() -> new Limits(1, 0, 1, 1)).hasMessageContaining("maxBytes");
    assertThatThrownBy(() -> new Limits(1, 1, 0, 1)).hasMessageContaining("maxAgeNanos");
    assertThatThrownBy(() -> new Limits(1, 1, 1, 0)).hasMessageContaining("maxOpenPartitions");
  }

  /** One step of a run: a payload (partition, size, time), or the caller's age check. */
  record Step(String partition, int bytes, long at) {}

  private static List<Step> randomSteps(long seed, int n, int cardinality) {
    Random rnd = new Random(seed);
    List<Step> steps = new ArrayList<>(n);
    long t = 0;
    for (int i = 0; i < n; i++) {
      t += rnd.nextInt(10) == 0 ? MS : 0;
      String part =
          rnd.nextInt(10) < 3 ? "hot" : "p" + (int) Math.abs(rnd.nextGaussian() * cardinality);
      steps.add(new Step(part, 20 + rnd.nextInt(200), t));
    }
    return steps;
  }

  /**
   * Runs the steps. With {@code record}, checks ages after every step and records in {@code ages}
   * which partitions they cut after which step; without, replays those cuts with {@link
   * Partitioner#cut} and never checks ages.
   */
  private static List<Batch<String, Integer>> run(
      Limits limits, List<Step> steps, Map<Integer, List<String>> ages, boolean record) {
    Partitioner<String, Integer> p = new Partitioner<>(limits);
    List<Batch<String, Integer>> out = new ArrayList<>();
    for (int i = 0; i < steps.size(); i++) {
      Step s = steps.get(i);
      out.addAll(p.add(s.partition(), i, s.bytes(), s.at()));
      if (record) {
        List<Batch<String, Integer>> aged = p.cutAged(s.at());
        for (Batch<String, Integer> b : aged) {
          ages.computeIfAbsent(i, k -> new ArrayList<>()).add(b.partition());
        }
        out.addAll(aged);
      } else {
        for (String part : ages.getOrDefault(i, List.of())) {
          out.add(p.cut(part).orElseThrow());
        }
      }
    }
    out.addAll(p.flush());
    return out;
  }

  @Test
  void theSamePayloadsAndRecordedAgeCutsCutTheSameBatches() {
    Limits limits = limits(50, 6000, 20, 16);
    List<Step> steps = randomSteps(7, 50_000, 10);
    Map<Integer, List<String>> ages = new HashMap<>();
    List<Batch<String, Integer>> first = run(limits, steps, ages, true);
    List<Batch<String, Integer>> again = run(limits, steps, new HashMap<>(), true);
    List<Batch<String, Integer>> replayed = run(limits, steps, ages, false);
    assertThat(ages).isNotEmpty();
    assertThat(first.stream().map(Batch::cut).distinct())
        .contains(Cut.PAYLOADS, Cut.BYTES, Cut.AGE, Cut.EVICTED);
    assertThat(again).isEqualTo(first);
    assertThat(replayed).hasSameSizeAs(first);
    for (int i = 0; i < first.size(); i++) {
      assertThat(replayed.get(i).partition()).isEqualTo(first.get(i).partition());
      assertThat(replayed.get(i).items()).isEqualTo(first.get(i).items());
      assertThat(replayed.get(i).bytes()).isEqualTo(first.get(i).bytes());
    }
  }

  @Test
  void highCardinalityStaysWithinTheBoundAndEveryPayloadIsInExactlyOneBatch() {
    int maxOpen = 64;
    Limits limits = limits(100, 64 * 1024, 1000, maxOpen);
    Partitioner<String, Integer> p = new Partitioner<>(limits);
    Random rnd = new Random(3);
    int n = 1_000_000;
    int[] seen = new int[n];
    Map<String, Integer> lastInPartition = new HashMap<>();
    long maxHeldBytes = 0;
    List<Batch<String, Integer>> batches = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      // mostly distinct values (a hostile client), some hot ones
      String part = rnd.nextInt(4) == 0 ? "hot" + rnd.nextInt(8) : "u" + rnd.nextInt(n);
      batches.addAll(p.add(part, i, 100, 0));
      assertThat(p.openPartitions()).isLessThanOrEqualTo(maxOpen);
      maxHeldBytes = Math.max(maxHeldBytes, p.heldBytes());
      if (batches.size() > 10_000) {
        account(batches, seen, lastInPartition);
      }
    }
    batches.addAll(p.flush());
    account(batches, seen, lastInPartition);
    for (int i = 0; i < n; i++) {
      assertThat(seen[i]).as("payload %d", i).isEqualTo(1);
    }
    assertThat(maxHeldBytes).isLessThanOrEqualTo((long) maxOpen * 100 * 101);
  }

  /** Counts each payload's batches, checks order within a partition, and drops the batches. */
  private static void account(
      List<Batch<String, Integer>> batches, int[] seen, Map<String, Integer> last) {
    for (Batch<String, Integer> b : batches) {
      assertThat(b.items()).isNotEmpty().hasSizeLessThanOrEqualTo(100);
      for (int item : b.items()) {
        seen[item]++;
        Integer prev = last.put(b.partition(), item);
        assertThat(prev == null || prev < item).isTrue();
      }
    }
    batches.clear();
  }

  @Test
  void worksWithKeyTemplatePartitions() {
    KeyTemplate t =
        KeyTemplate.parse("{prefix}/{$.source}/{batch}{ext}", Unit.BATCH, "p", ".ndjson.gz");
    Partitioner<Partition, byte[]> p = new Partitioner<>(limits(1000, 1 << 20, 1000, 200));
    List<byte[]> payloads = SamplePayloads.of(10_000, 5);
    for (byte[] payload : payloads) {
      assertThat(p.add(t.partition(payload), payload, payload.length, 0)).isEmpty();
    }
    List<Batch<Partition, byte[]>> all = p.flush();
    assertThat(all).hasSize(99); // sensor-01 .. sensor-99
    assertThat(all.stream().mapToInt(b -> b.items().size()).sum()).isEqualTo(10_000);
    for (Batch<Partition, byte[]> b : all) {
      for (byte[] payload : b.items()) {
        assertThat(new String(payload)).contains("\"source\":\"" + b.partition().values().get(0));
      }
    }
  }
}
