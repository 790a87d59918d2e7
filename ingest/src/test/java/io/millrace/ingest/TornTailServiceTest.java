package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.FaultProxy;
import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.ServiceProcess;
import io.millrace.ingest.testing.StandaloneStore;
import io.millrace.ingest.testing.StoredIds;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A torn tail at service level (disk queue only; the memory queue has no log): the service is
 * killed with SIGKILL, the last segment of its log is cut at a random byte offset, and it is
 * started again on the same folder. It must start, keep every complete record, say in its log what
 * it cut off, and lose nothing acknowledged before the tail.
 *
 * <p>Each round: on a fresh data folder the service admits 50 payloads and stores them (the
 * acknowledged part, the "head"); the test notes where the last segment ends. Then the store is
 * stalled, 30 more payloads are admitted in 3 requests (the "tail": records written, never stored),
 * and the service is killed. The test reads the tail's records from the segment itself (the format
 * documented in {@code RecordFormat}, read here independently of the service's own scanner) and
 * truncates the file at a seeded random offset inside the tail, as a crash in the middle of writing
 * the tail would leave it; then the store comes back and the service starts again. Expected, and
 * checked through the S3 API: the head stored exactly once; each tail record that ends at or before
 * the cut stored exactly once; the record the cut falls into, and every one after it, not stored
 * (their bytes are gone); and when the cut is inside a record, the log names the segment, the
 * offset where that record starts and the bytes cut off.
 *
 * <p>The tail's requests did get a 202, so a real crash could not tear them: they stand for writes
 * whose 202 was never sent. Rounds: {@code -Dmillrace.torntail.rounds} (3); seed printed, {@code
 * -Dmillrace.crash.seed} replays it.
 */
@Timeout(300)
class TornTailServiceTest {
  static final int ROUNDS = Integer.getInteger("millrace.torntail.rounds", 3);
  static final int HEADER_BYTES = 32;
  static final int RECORD_HEADER_BYTES = 9;
  static final int PAYLOADS = 1;
  private static final Pattern ID = Pattern.compile("\"id\":\"([^\"]+)\"");

  @TempDir Path dir;

  /** One record of a segment file: where it starts and ends, its type, the ids it holds. */
  record Rec(long start, long end, int type, List<String> ids) {}

  @Test
  void aTornTailIsCutOffLoggedAndEveryCompleteRecordIsKept() throws Exception {
    long seed = Long.getLong("millrace.crash.seed", System.nanoTime());
    Random random = new Random(seed);
    System.out.printf("TornTailServiceTest: seed %d, rounds %d%n", seed, ROUNDS);
    try (StandaloneStore store = StandaloneStore.start(dir.resolve("store"))) {
      List<String> results = new ArrayList<>();
      Set<String> expected = new HashSet<>();
      for (int r = 0; r < ROUNDS; r++) {
        Path data = dir.resolve("data-" + r);
        Map<String, String> env = store.serviceEnv(data, "disk");
        env.put("MILLRACE_BATCH_MAX_PAYLOADS", "10");
        Set<String> head = new HashSet<>();
        Path segment;
        long headEnd;
        store.proxy().fault(FaultProxy.Fault.NONE);
        try (ServiceProcess p = ServiceProcess.start("first-" + r, dir, env)) {
          for (int k = 0; k < 5; k++) {
            head.addAll(post(p, "tt" + r + "h" + k, 10));
          }
          ServiceCrashTest.awaitDrained(p, Duration.ofSeconds(60));
          Thread.sleep(200); // the last batch's "stored" record is written after the gauge drops
          segment = lastSegment(data);
          headEnd = recordsEnd(segment);
          store.proxy().fault(FaultProxy.Fault.STALL);
          for (int k = 0; k < 3; k++) {
            post(p, "tt" + r + "t" + k, 10);
          }
          Thread.sleep(300); // batches are cut, their uploads stall
          p.kill9();
        }
        assertThat(lastSegment(data)).as("still the last segment").isEqualTo(segment);
        long fileEnd = recordsEnd(segment);
        List<Rec> records = records(segment);
        byte[] bytes = Files.readAllBytes(segment);
        int nonZero = (int) fileEnd;
        while (nonZero < bytes.length && bytes[nonZero] == 0) {
          nonZero++;
        }
        assertThat(nonZero)
            .as("the killed service left whole records, then only zeros (preallocated)")
            .isEqualTo(bytes.length);
        assertThat(records).isNotEmpty();
        List<Rec> tail = records.stream().filter(x -> x.start() >= headEnd).toList();
        String tailPrefix = "tt" + r + "t";
        assertThat(
                tail.stream().flatMap(x -> x.ids().stream()).filter(i -> i.startsWith(tailPrefix)))
            .as("the tail's records hold the tail's payloads")
            .hasSize(30);
        long cut = headEnd + (long) (random.nextDouble() * (fileEnd - headEnd));
        Rec torn = null;
        Set<String> kept = new HashSet<>();
        Set<String> gone = new HashSet<>();
        for (Rec x : tail) {
          if (x.end() <= cut) {
            kept.addAll(x.ids());
          } else {
            gone.addAll(x.ids());
            if (x.start() < cut && torn == null) {
              torn = x;
            }
          }
        }
        // the log counts what it cuts up to the last non-zero byte (a preallocated segment's tail
        // is zeros): the same count here, read before the restart repairs the file
        byte[] before = Files.readAllBytes(segment);
        long lastNonZero = Math.min(cut, before.length);
        while (torn != null && lastNonZero > torn.start() && before[(int) lastNonZero - 1] == 0) {
          lastNonZero--;
        }
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
          ch.truncate(cut);
        }
        store.proxy().fault(FaultProxy.Fault.NONE);
        String logs;
        try (ServiceProcess p = ServiceProcess.start("second-" + r, dir, env)) {
          ServiceCrashTest.awaitDrained(p, Duration.ofSeconds(60));
          p.sigterm();
          p.waitFor(Duration.ofSeconds(60));
          logs = p.logs();
        }
        String what =
            String.format(
                "round %d: cut %s at %d (head ends at %d, file at %d); %s; %d tail payloads kept,"
                    + " %d cut off",
                r,
                segment.getFileName(),
                cut,
                headEnd,
                fileEnd,
                torn == null
                    ? "on a record boundary"
                    : "inside a record of type "
                        + torn.type()
                        + " at "
                        + torn.start()
                        + ".."
                        + torn.end(),
                kept.size(),
                gone.size());
        results.add(
            what
                + "; the log: "
                + logs.lines()
                    .filter(l -> l.toLowerCase(java.util.Locale.ROOT).contains("torn tail"))
                    .findFirst()
                    .orElse("(no line about a torn tail)"));
        if (torn != null) {
          long droppedBytes = lastNonZero - torn.start();
          assertThat(logs)
              .as("the log says what was cut off; %s", what)
              .containsIgnoringCase("torn tail")
              .contains(droppedBytes + " bytes")
              .contains(segment.getFileName() + ":" + torn.start());
        }
        expected.addAll(head);
        expected.addAll(kept);
      }
      StoredIds stored = store.readBack();
      System.out.printf(
          "TornTailServiceTest: seed %d; %s%n  %s%n",
          seed, stored.report(expected), String.join("\n  ", results));
      assertThat(stored.foreign()).isEmpty();
      assertThat(stored.missing(expected))
          .as("acknowledged or complete, not stored; %s", results)
          .isEmpty();
      assertThat(stored.duplicates()).as("stored twice; %s", results).isEmpty();
      assertThat(stored.notAccepted(expected))
          .as("stored from bytes that were cut off; %s", results)
          .isEmpty();
    }
  }

  private static List<String> post(ServiceProcess p, String prefix, int n) throws IOException {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(prefix + "-" + i);
    }
    var resp =
        RawHttp.post(
            p.port(),
            "application/json",
            utf8(
                "{\"payloads\":["
                    + String.join(",", ids.stream().map(LoadClient::payload).toList())
                    + "]}"));
    assertThat(resp.status()).as("%s", resp).isEqualTo(202);
    return ids;
  }

  /** {@return the log's last segment file: the highest-numbered NNNN(20 digits).log under data} */
  static Path lastSegment(Path data) throws IOException {
    try (Stream<Path> files = Files.walk(data)) {
      return files
          .filter(f -> f.getFileName().toString().matches("\\d{20}\\.log"))
          .filter(TornTailServiceTest::hasHeader) // not a spare: preallocated zeros, no header yet
          .max(java.util.Comparator.comparing(f -> f.getFileName().toString()))
          .orElseThrow(() -> new AssertionError("no segment file under " + data));
    }
  }

  private static boolean hasHeader(Path file) {
    try (FileChannel ch = FileChannel.open(file)) {
      ByteBuffer b = ByteBuffer.allocate(4);
      ch.read(b, 0);
      return b.getInt(0) != 0; // the magic
    } catch (IOException e) {
      return false;
    }
  }

  /** {@return where the records of a segment file end: the file's end, or its zeroed tail} */
  static long recordsEnd(Path segment) throws IOException {
    List<Rec> all = records(segment);
    return all.isEmpty() ? HEADER_BYTES : all.get(all.size() - 1).end();
  }

  /**
   * {@return the records of a segment file, read by the documented format: a 32-byte header, then
   * records of crc u32 | length u32 | type u8 | body; a PAYLOADS body is firstPosition i64 |
   * firstByte i64 | appendedAt i64 | count i32 | count x (length i32 | bytes)}
   */
  static List<Rec> records(Path segment) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(segment));
    List<Rec> out = new ArrayList<>();
    int at = HEADER_BYTES;
    while (at + RECORD_HEADER_BYTES <= b.limit()) {
      int length = b.getInt(at + 4);
      int type = b.get(at + 8);
      if (b.getInt(at) == 0 && length == 0 && type == 0) {
        break; // a zeroed record header: the preallocated rest of the file
      }
      int body = at + RECORD_HEADER_BYTES;
      if (length < 0 || body + (long) length > b.limit()) {
        break;
      }
      List<String> ids = new ArrayList<>();
      if (type == PAYLOADS) {
        int count = b.getInt(body + 24);
        int q = body + 28;
        for (int i = 0; i < count; i++) {
          int len = b.getInt(q);
          Matcher m = ID.matcher(new String(b.array(), q + 4, len, StandardCharsets.UTF_8));
          if (m.find()) {
            ids.add(m.group(1));
          }
          q += 4 + len;
        }
      }
      out.add(new Rec(at, body + length, type, ids));
      at = body + length;
    }
    return out;
  }
}
