package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.JetStreamRig;
import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.ServiceProcess;
import io.millrace.ingest.testing.StoredIds;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker going away under load and coming back: one ingest and one worker process on a private
 * nats-server; while load runs the server is stopped (SIGTERM) for about 3 s. Meanwhile the ingest
 * process answers 503 with Retry-After (problem type queue-unavailable) and /readyz 503, and admits
 * nothing; once the server is back on the same port with the same store, admission recovers by
 * itself, and in the end every accepted payload is stored, none twice: batches stored while the
 * broker was away (their acks lost, so they come back) are rebuilt from the ledger and rewritten
 * under their keys.
 */
@Timeout(180)
class JetStreamBrokerRestartTest {
  @TempDir Path dir;

  @Test
  void whileTheBrokerIsDownIngestAnswers503AndAfterItNothingAcceptedIsLost() throws Exception {
    long t0 = System.nanoTime();
    // what the worker held when the broker went away is stored, but its ack cannot be sent: it
    // comes back after AckWait and finds its batch in the ledger; 5 s instead of 30 s keeps the
    // test short
    try (JetStreamRig rig = JetStreamRig.start(dir, Map.of("MILLRACE_NATS_ACK_WAIT_MS", "5000"))) {
      try {
        List<ServiceProcess> ps = rig.startServices("ingest", "worker");
        ServiceProcess ingest = ps.get(0);
        ServiceProcess worker = ps.get(1);
        assertThat(ingest.status("/readyz")).as("ingest ready with the broker up").isEqualTo(200);

        LoadClient load =
            new LoadClient(
                List.of(ingest.port()),
                4,
                20,
                50_000_000L,
                "br" + Long.toString(System.nanoTime() % 1_000_000, 36),
                3_000,
                Duration.ofSeconds(60));
        long down;
        long up;
        long recovered;
        StringBuilder phases = new StringBuilder();
        try (load) {
          load.start();
          Awaitility.await("the load is admitted")
              .atMost(Duration.ofSeconds(20))
              .pollInterval(Duration.ofMillis(50))
              .until(
                  () -> {
                    load.checkNoFailure();
                    return load.accepted().size() >= 3_000;
                  });
          long retryAfterBefore = load.unavailableWithRetryAfter();

          rig.nats.stop();
          down = System.nanoTime();

          // a request of our own: 503, Retry-After, problem type queue-unavailable
          RawHttp.Response probe = probeWhileDown(ingest.port());
          phases.append("probe answered ").append(ms(down)).append(" ms after the broker's exit");
          assertThat(probe.status()).as("POST while the broker is down: %s", probe).isEqualTo(503);
          assertThat(probe.header("Retry-After")).as("Retry-After on %s", probe).isNotBlank();
          assertThat(probe.text()).as("problem type").contains("queue-unavailable");
          Awaitility.await("/readyz answers 503 while the broker is down")
              .atMost(Duration.ofSeconds(10))
              .pollInterval(Duration.ofMillis(50))
              .until(() -> ingest.status("/readyz") == 503);
          phases.append(", /readyz 503 at ").append(ms(down)).append(" ms");
          Awaitility.await("the load sees 503 with Retry-After")
              .atMost(Duration.ofSeconds(10))
              .pollInterval(Duration.ofMillis(50))
              .until(() -> load.unavailableWithRetryAfter() > retryAfterBefore);
          phases.append(", the load saw 503 at ").append(ms(down)).append(" ms");
          long left = down + 3_000_000_000L - System.nanoTime();
          if (left > 0) {
            Thread.sleep(left / 1_000_000);
          }
          assertThat(ingest.status("/readyz"))
              .as("/readyz still 503 before the broker is back")
              .isEqualTo(503);
          load.checkNoFailure();
          long late202 = load.last202Nanos() - down;
          assertThat(late202)
              .as("ns from the broker's exit to the last 202 (none expected after 1 s)")
              .isLessThan(1_000_000_000L);

          rig.nats.restart();
          up = System.nanoTime();
          Awaitility.await("admission recovers by itself")
              .atMost(Duration.ofSeconds(30))
              .pollInterval(Duration.ofMillis(50))
              .until(
                  () -> {
                    load.checkNoFailure();
                    return load.last202Nanos() > up;
                  });
          recovered = System.nanoTime();
          Awaitility.await("/readyz answers 200 again")
              .atMost(Duration.ofSeconds(30))
              .pollInterval(Duration.ofMillis(100))
              .until(() -> ingest.status("/readyz") == 200);
          int before = load.accepted().size();
          Thread.sleep(2_000);
          assertThat(load.accepted().size() - before)
              .as("payloads admitted in the 2 s after recovery")
              .isGreaterThanOrEqualTo(2_000);
          load.stop();
          load.await(Duration.ofSeconds(90));
        }
        long loaded = System.nanoTime();

        rig.awaitQueueEmpty(Duration.ofSeconds(90));
        long drained = System.nanoTime();
        StoredIds stored = rig.readBack();
        String report = stored.report(load.accepted());
        System.out.printf(
            "JetStreamBrokerRestartTest: %s; broker down %d ms (%s), first 202 %d ms after it was"
                + " back, load %d ms in all, drain %d ms, worker stored %d; %s%n",
            report,
            (up - down) / 1_000_000,
            phases,
            (recovered - up) / 1_000_000,
            (loaded - t0) / 1_000_000,
            (drained - loaded) / 1_000_000,
            (long) worker.metric("millrace_payloads_stored_total"),
            load.summary());
        if (!stored.duplicates().isEmpty()) {
          System.out.println(
              "  duplicated ids (id=count, first 20): "
                  + stored.duplicates().entrySet().stream().limit(20).toList());
          System.out.println(
              "  objects holding them (first + later object: ids): " + stored.duplicatePairs());
        }
        assertThat(stored.foreign())
            .as("lines that are not a payload as sent; %s", report)
            .isEmpty();
        assertThat(stored.missing(load.accepted()))
            .as("accepted but not stored; %s", report)
            .isEmpty();
        // acks lost while the broker was down: the batches come back and are rebuilt from the
        // ledger under their keys, so nothing is stored twice
        assertThat(stored.duplicates())
            .as("ids stored more than once (%d); %s", stored.duplicates().size(), report)
            .isEmpty();
      } catch (Throwable t) {
        rig.dumpLogs();
        throw t;
      }
    }
  }

  static long ms(long since) {
    return (System.nanoTime() - since) / 1_000_000;
  }

  /**
   * POSTs one request of unique payloads until an answer comes (at most 15 s); a 202 is returned
   * too.
   */
  static RawHttp.Response probeWhileDown(int port) throws Exception {
    long deadline = System.nanoTime() + 15_000_000_000L;
    for (int i = 0; ; i++) {
      String body = "{\"payloads\":[" + LoadClient.payload("probe-" + i) + "]}";
      try {
        RawHttp.Response r = RawHttp.post(port, "application/json", utf8(body));
        if (r.status() != -1) {
          return r;
        }
      } catch (IOException e) {
        // no answer: try again
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "the ingest process did not answer a POST within 15 s of the broker's exit");
      }
      Thread.sleep(100);
    }
  }
}
