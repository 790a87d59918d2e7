package io.millrace.ingest.queue.jetstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.NatsServerProcess;
import io.nats.client.Connection;
import io.nats.client.KeyValue;
import io.nats.client.Nats;
import io.nats.client.api.KeyValueConfiguration;
import io.nats.client.api.StorageType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ledger against a private nats-server: a payload is claimed by one batch at most, whoever
 * settles a batch computes the same content, and a worker that wakes up after its messages were
 * acknowledged and their claims removed claims nothing.
 */
@Timeout(120)
class LedgerTest {
  @TempDir static Path dir;
  static NatsServerProcess nats;
  static Connection nc;
  static int buckets;

  @BeforeAll
  static void start() throws Exception {
    nats = NatsServerProcess.start(dir.resolve("nats"));
    nc = Nats.connect(nats.url());
  }

  @AfterAll
  static void stop() throws Exception {
    if (nc != null) {
      nc.close();
    }
    if (nats != null) {
      nats.close();
    }
  }

  static KeyValue bucket() throws Exception {
    String name = "LEDGER" + (++buckets);
    nc.keyValueManagement()
        .create(KeyValueConfiguration.builder().name(name).storageType(StorageType.File).build());
    return nc.keyValue(name);
  }

  static Ledger.Intent intent(String name, Part... parts) {
    return new Ledger.Intent(name, List.of(parts));
  }

  @Test
  void aPayloadClaimedByOneBatchIsLeftOutOfAnother() throws Exception {
    KeyValue kv = bucket();
    Ledger l = new Ledger(kv, () -> 1);
    Ledger.Intent a = intent("a-4", new Part(1, 0, 2), new Part(2, 0, 2));
    Ledger.Intent b = intent("b-4", new Part(2, 1, 3), new Part(3, 0, 2));
    assertThat(l.record(a)).isTrue();
    assertThat(l.claim(a)).containsExactly(new Part(1, 0, 2), new Part(2, 0, 2));
    assertThat(l.record(b)).isTrue();
    assertThat(l.claim(b)).containsExactly(new Part(3, 0, 2)); // [2: 1..3) overlaps a's claim
    // settling again, by anyone, gives the same content
    assertThat(new Ledger(kv, () -> 1).claim(a))
        .containsExactly(new Part(1, 0, 2), new Part(2, 0, 2));
    assertThat(l.claim(b)).containsExactly(new Part(3, 0, 2));
    assertThat(l.claimsOn(2)).containsExactly(new Ledger.Claim(new Part(2, 0, 2), "a-4"));
    assertThat(l.intent("b-4")).isEqualTo(b);
    assertThat(l.intent("nope")).isNull();
  }

  @Test
  void aNameTakenWithOtherPartsIsRefusedAndTheSamePartsAreAccepted() throws Exception {
    Ledger l = new Ledger(bucket(), () -> 1);
    assertThat(l.record(intent("x-1", new Part(5, 0, 1)))).isTrue();
    assertThat(l.record(intent("x-1", new Part(5, 0, 1)))).isTrue();
    assertThat(l.record(intent("x-1", new Part(6, 0, 1)))).isFalse();
  }

  @Test
  void partsBelowTheFirstSequenceInANewEntryAreClaimedAsGone() throws Exception {
    AtomicLong first = new AtomicLong(1);
    Ledger l = new Ledger(bucket(), first::get);
    first.set(600); // messages up to 599 acknowledged and their entry removed
    Ledger.Intent late = intent("late-2", new Part(10, 0, 1), new Part(700, 0, 1));
    assertThat(l.record(late)).isTrue();
    assertThat(l.claim(late)).containsExactly(new Part(700, 0, 1));
    assertThat(l.claim(late)).containsExactly(new Part(700, 0, 1));
    assertThat(l.claimsOn(10)).containsExactly(new Ledger.Claim(new Part(10, 0, 1), Ledger.GONE));
  }

  /**
   * Eight threads record and settle random overlapping batches over 2,000 messages at once, each
   * batch also settled again by another thread: every payload is in one batch's content at most,
   * and every settling of a batch returns the same content.
   */
  @Test
  void concurrentSettlingNeverPutsAPayloadInTwoBatches() throws Exception {
    KeyValue kv = bucket();
    long seed = System.nanoTime();
    System.out.println("LedgerTest seed " + seed);
    Random r = new Random(seed);
    List<Ledger.Intent> intents = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      List<Part> parts = new ArrayList<>();
      long seq = 1 + r.nextInt(2000);
      int n = 1 + r.nextInt(12);
      for (int k = 0; k < n; k++) {
        int from = r.nextInt(4);
        parts.add(new Part(seq, from, from + 1 + r.nextInt(4)));
        seq += 1 + r.nextInt(40);
      }
      intents.add(new Ledger.Intent("i" + i, parts));
    }
    Map<String, List<List<Part>>> contents = new ConcurrentHashMap<>();
    try (ExecutorService ex = Executors.newFixedThreadPool(8)) {
      List<Future<?>> fs = new ArrayList<>();
      for (int round = 0; round < 2; round++) {
        for (Ledger.Intent in : intents) {
          fs.add(
              ex.submit(
                  () -> {
                    Ledger l = new Ledger(kv, () -> 1);
                    assertThat(l.record(in)).isTrue();
                    contents
                        .computeIfAbsent(
                            in.name(), k -> new java.util.concurrent.CopyOnWriteArrayList<>())
                        .add(l.claim(in));
                    return null;
                  }));
        }
      }
      for (Future<?> f : fs) {
        f.get(60, TimeUnit.SECONDS);
      }
    }
    Map<String, String> owner = new HashMap<>();
    for (Map.Entry<String, List<List<Part>>> e : contents.entrySet()) {
      assertThat(e.getValue()).as("settlings of %s", e.getKey()).hasSize(2);
      assertThat(e.getValue().get(0))
          .as("content of %s", e.getKey())
          .isEqualTo(e.getValue().get(1));
      for (Part p : e.getValue().get(0)) {
        for (int i = p.from(); i < p.to(); i++) {
          String was = owner.put(p.seq() + "/" + i, e.getKey());
          assertThat(was).as("payload %d/%d in %s and %s", p.seq(), i, was, e.getKey()).isNull();
        }
      }
    }
    assertThat(owner).isNotEmpty();
  }
}
