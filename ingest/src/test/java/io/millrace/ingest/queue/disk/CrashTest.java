package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.LogFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a separate JVM that appends, cuts and stores in a loop ({@link AppendLoop}), at seeded
 * random moments, restarting it on the same folder each round. After each kill the log is opened
 * here: every append that returned is there exactly once with its content, unless its batch was cut
 * and its segment deleted (stored); no payload is there twice; positions are dense. Five rounds by
 * default; {@code -Dmillrace.crash.rounds=20} for the long loop.
 */
@Timeout(600)
class CrashTest {
  private static final Pattern CONTENT = Pattern.compile("^\\{\"request\":(\\d+),\"i\":(\\d+),");
  @TempDir Path dir;

  @Test
  void killNineAtRandomMomentsLosesNoReturnedAppendAndStoresNothingTwice() throws Exception {
    int rounds = Integer.getInteger("millrace.crash.rounds", 5);
    long seed = System.nanoTime();
    System.out.println("crash test: " + rounds + " rounds, seed " + seed);
    Random random = new Random(seed);
    Map<Long, String> acked = new HashMap<>(); // position -> "request/i"
    List<long[]> cuts = new ArrayList<>();
    int torn = 0;
    for (int round = 0; round < rounds; round++) {
      long killAfter = 150 + random.nextInt(1200);
      List<String> lines = runAndKill(round, killAfter);
      for (String line : lines) {
        if (!line.endsWith(" .")) {
          continue; // the last line, cut short by the kill
        }
        String[] f = line.split(" ");
        switch (f[0]) {
          case "A" -> {
            long request = Long.parseLong(f[1]);
            long first = Long.parseLong(f[2]);
            for (int i = 0; i < Integer.parseInt(f[3]); i++) {
              String was = acked.put(first + i, request + "/" + i);
              assertThat(was).as("position %d acknowledged twice", first + i).isNull();
            }
          }
          case "C" -> cuts.add(new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])});
          default -> {}
        }
      }
      try (DiskLog log = DiskLog.open(dir, LogFixtures.small(64 << 10))) {
        RecoveryReport report = log.recovery();
        torn += report.tornTail().isPresent() ? 1 : 0;
        // cuts made durable whose C line the kill cut off; the next child stores them first
        report.pendingCuts().forEach(c -> cuts.add(new long[] {c.first(), c.last()}));
        System.out.printf(
            "round %d: killed after %d ms, %d lines; %s%n",
            round, killAfter, lines.size(), report.summary());
        long firstKept = log.firstPosition();
        Set<String> seen = new HashSet<>();
        long position = firstKept;
        try (LogReader r = log.reader(firstKept)) {
          for (LogEntry e; (e = r.next(Duration.ZERO)) != null; position++) {
            assertThat(e.position()).isEqualTo(position);
            Matcher m = CONTENT.matcher(text(e));
            assertThat(m.find()).as("content at %d", position).isTrue();
            String id = m.group(1) + "/" + m.group(2);
            assertThat(seen.add(id)).as("payload %s in the log twice", id).isTrue();
            String want = acked.get(position);
            if (want != null) {
              assertThat(id).as("position %d", position).isEqualTo(want);
            }
          }
        }
        assertThat(position).isEqualTo(report.nextPosition());
        for (Map.Entry<Long, String> a : acked.entrySet()) {
          long p = a.getKey();
          if (p < firstKept) {
            assertThat(cuts.stream().anyMatch(c -> c[0] <= p && p <= c[1]))
                .as("acknowledged position %d is gone without being cut and stored", p)
                .isTrue();
          } else {
            assertThat(p).as("acknowledged position %d is lost", p).isLessThan(position);
          }
        }
      }
    }
    System.out.printf(
        "crash test: %d rounds, %d acknowledged payloads, 0 lost, 0 twice, %d torn tails%n",
        rounds, acked.size(), torn);
    assertThat(acked.size()).isPositive();
  }

  private List<String> runAndKill(int round, long killAfterMillis) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                AppendLoop.class.getName(),
                dir.toString(),
                Long.toString(round * 100_000_000L))
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    ConcurrentLinkedQueue<String> lines = new ConcurrentLinkedQueue<>();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Thread reader =
        Thread.ofVirtual()
            .start(
                () -> {
                  try (BufferedReader in =
                      new BufferedReader(
                          new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                      lines.add(line);
                      if (line.startsWith("READY")) {
                        ready.complete(null);
                      }
                    }
                  } catch (Exception e) {
                    ready.completeExceptionally(e);
                  }
                });
    try {
      ready.get(60, TimeUnit.SECONDS);
      Thread.sleep(killAfterMillis);
    } finally {
      p.destroyForcibly(); // SIGKILL
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      reader.join(Duration.ofSeconds(30));
    }
    assertThat(p.exitValue()).as("killed, not exited").isEqualTo(137);
    return new ArrayList<>(lines);
  }
}
