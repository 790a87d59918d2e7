package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.NatsServerProcess;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.ServiceProcess;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SIGTERM in the start-up window, to the service in a child JVM with the embedded store: a client
 * posts as soon as {@code /healthz} answers, and the service gets SIGTERM right after the first
 * 202. Then it is started again on the same data folder (the local log replays what it holds
 * unstored; the in-memory queue replays what the first run spilled; JetStream still holds what it
 * acknowledged) and the store is read back: every payload answered 202 is stored, exactly once, in
 * every round.
 *
 * <p>Rounds per queue mode: {@code -Dmillrace.sigterm.rounds=30} for the full loop (default 2).
 */
class SigtermAtStartTest {
  static final int ROUNDS = Integer.getInteger("millrace.sigterm.rounds", 2);

  @TempDir Path dir;

  /** What one round saw. */
  record Round(int round, int accepted, int stored, int lost, int duplicated) {}

  @ParameterizedTest
  @ValueSource(strings = {"disk", "memory", "nats"})
  @Timeout(1800)
  void aSigtermRightAfterTheFirst202LosesNothing(String queue) throws Exception {
    NatsServerProcess nats =
        queue.equals("nats") ? NatsServerProcess.start(dir.resolve("n")) : null;
    try {
      List<Round> rounds = new ArrayList<>();
      for (int r = 0; r < ROUNDS; r++) {
        rounds.add(round(r, queue, nats));
      }
      assertThat(rounds)
          .as("rounds (accepted, stored, lost, stored twice)")
          .allMatch(x -> x.lost() == 0 && x.duplicated() == 0)
          .allMatch(x -> x.accepted() > 0);
    } finally {
      if (nats != null) {
        nats.close();
      }
    }
  }

  private Round round(int r, String queue, NatsServerProcess nats) throws Exception {
    Path data = dir.resolve("round-" + r);
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_HOST", "127.0.0.1");
    env.put("MILLRACE_DATA_DIR", data.toString());
    env.put("MILLRACE_BATCH_MAX_AGE_MS", "50");
    env.put("MILLRACE_DRAIN_TIMEOUT_MS", "10000");
    String stream = "SIGTERM" + r;
    env.put("MILLRACE_QUEUE", queue);
    if (nats != null) {
      env.put("MILLRACE_QUEUE", nats.url());
      env.put("MILLRACE_NATS_STREAM", stream);
      env.put("MILLRACE_NATS_SUBJECT", "sigterm." + r);
      env.put("MILLRACE_NATS_DEAD_SUBJECT", "sigterm-dead." + r);
      env.put("MILLRACE_NATS_CONSUMER", "w" + r);
      // what a killed first run held unacknowledged comes back after 1 s, not 30
      env.put("MILLRACE_NATS_ACK_WAIT_MS", "1000");
      // a stream per round: small limits, or 30 of them exhaust the server's JetStream storage
      env.put("MILLRACE_NATS_MAX_BYTES", "8388608");
    }
    int port = NatsServerProcess.freePort();
    Set<String> accepted = new HashSet<>();
    try (ServiceProcess first = ServiceProcess.launch("first-" + r, dir, env, port)) {
      awaitHealthz(first);
      boolean signalled = false;
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      for (int k = 0; first.isAlive() && System.nanoTime() < deadline; k++) {
        List<String> payloads = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          payloads.add("{\"r\":" + r + ",\"k\":" + k + ",\"i\":" + i + "}");
        }
        RawHttp.Response resp;
        try {
          resp =
              RawHttp.post(
                  port,
                  "application/json",
                  utf8("{\"payloads\":[" + String.join(",", payloads) + "]}"));
        } catch (IOException e) {
          break; // no longer listening
        }
        if (resp.status() == 202) {
          accepted.addAll(payloads);
          if (!signalled) {
            first.sigterm();
            signalled = true;
          }
        } else if (signalled && resp.status() != 503) {
          break;
        }
      }
      assertThat(signalled).as("a 202 came; %s", first.logs()).isTrue();
      first.waitFor(Duration.ofSeconds(60));
    }
    try (ServiceProcess second = ServiceProcess.start("second-" + r, dir, env)) {
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(100))
          .until(
              () ->
                  second.metric("millrace_queue_payloads") == 0
                      && (nats == null || nats.queueState(stream, "w" + r).empty()));
      second.sigterm();
      second.waitFor(Duration.ofSeconds(60));
    }
    Map<String, Integer> stored = storedOnDisk(data);
    int lost = 0;
    for (String p : accepted) {
      if (!stored.containsKey(p)) {
        lost++;
      }
    }
    int twice = (int) stored.values().stream().filter(n -> n > 1).count();
    return new Round(r, accepted.size(), stored.size(), lost, twice);
  }

  private static void awaitHealthz(ServiceProcess p) throws InterruptedException {
    long deadline = System.nanoTime() + ServiceProcess.START.toNanos();
    while (p.status("/healthz") != 200) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        throw new AssertionError("/healthz never answered\n" + p.logs());
      }
      Thread.sleep(2);
    }
  }

  /**
   * {@return every payload in the embedded store's objects (files under {@code <data>/s3/}), with
   * how often it occurs}
   */
  static Map<String, Integer> storedOnDisk(Path data) throws IOException {
    Map<String, Integer> counts = new HashMap<>();
    Path bucket = data.resolve("s3").resolve("millrace");
    if (!Files.isDirectory(bucket)) {
      return counts;
    }
    List<Path> objects;
    try (var files = Files.walk(bucket)) {
      objects = files.filter(Files::isRegularFile).toList();
    }
    for (Path o : objects) {
      byte[] bytes = Files.readAllBytes(o);
      String name = o.getFileName().toString();
      if (name.endsWith(".ndjson.gz")) {
        try (var in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
          bytes = in.readAllBytes();
        }
      } else if (!name.endsWith(".json")) {
        continue;
      }
      for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
        if (!line.isEmpty()) {
          counts.merge(line, 1, Integer::sum);
        }
      }
    }
    return counts;
  }
}
