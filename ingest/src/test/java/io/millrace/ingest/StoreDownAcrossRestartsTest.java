package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.FaultProxy;
import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.ServiceProcess;
import io.millrace.ingest.testing.StandaloneStore;
import io.millrace.ingest.testing.StoredIds;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The store stays down across two and three restarts, then comes back: everything answered 202 is
 * stored exactly once. The service runs in child JVMs behind a {@link FaultProxy} that stalls every
 * S3 request (read, never answered, so nothing reaches the store); every run admits 50 new payloads
 * (5 requests of 10) while the earlier ones are still unstored, batches form and their uploads
 * stall, and the run ends with SIGTERM (drain deadline 500 ms, so the drain gives up) or with kill
 * -9. Then the store comes back, one more start stores the backlog, and the store is read back
 * through the S3 API: the accepted ids exactly, each once.
 *
 * <p>In disk mode the backlog stays in the log, and the batches already cut are rebuilt under the
 * same keys; the memory queue spills on SIGTERM (and loses everything on kill -9, which is what
 * {@code -Dmillrace.queues=memory} shows). Queue modes: {@code -Dmillrace.queues}, default {@code
 * disk}.
 */
@Timeout(300)
class StoreDownAcrossRestartsTest {
  @TempDir Path dir;

  static Stream<Arguments> cases() {
    return ServiceCrashTest.queues().stream()
        .flatMap(
            q ->
                Stream.of(
                    Arguments.of(q, 2, "sigterm"),
                    Arguments.of(q, 3, "sigterm"),
                    Arguments.of(q, 3, "kill")));
  }

  @ParameterizedTest(name = "queue {0}: {1} runs end with {2} while the store is down")
  @MethodSource("cases")
  void everythingIsStoredExactlyOnceWhenTheStoreComesBack(
      String queue, int runsWhileDown, String ending) throws Exception {
    try (StandaloneStore store = StandaloneStore.start(dir.resolve("store"))) {
      Map<String, String> env = store.serviceEnv(dir.resolve("svc"), queue);
      env.put("MILLRACE_DRAIN_TIMEOUT_MS", "500");
      env.put("MILLRACE_BATCH_MAX_PAYLOADS", "10");
      store.proxy().fault(FaultProxy.Fault.STALL);
      Set<String> accepted = new HashSet<>();
      List<String> logs = new ArrayList<>();
      for (int run = 0; run < runsWhileDown; run++) {
        try (ServiceProcess p = ServiceProcess.start("down-" + run, dir, env)) {
          for (int k = 0; k < 5; k++) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
              ids.add("sd" + run + "-" + k + "-" + i);
            }
            var r =
                RawHttp.post(
                    p.port(),
                    "application/json",
                    utf8(
                        "{\"payloads\":["
                            + String.join(",", ids.stream().map(LoadClient::payload).toList())
                            + "]}"));
            assertThat(r.status()).as("run %d request %d: %s", run, k, r).isEqualTo(202);
            accepted.addAll(ids);
          }
          Thread.sleep(700); // batches form (or are rebuilt) and their uploads stall
          if (ending.equals("kill")) {
            p.kill9();
          } else {
            p.sigterm();
            p.waitFor(Duration.ofSeconds(60));
          }
          logs.add(p.logs());
        }
      }
      assertThat(store.readBack().lines()).as("nothing reached the store while down").isZero();

      store.proxy().fault(FaultProxy.Fault.NONE);
      try (ServiceProcess p = ServiceProcess.start("up", dir, env)) {
        ServiceCrashTest.awaitDrained(p, Duration.ofSeconds(60));
        p.sigterm();
        p.waitFor(Duration.ofSeconds(60));
        logs.add(p.logs());
      }
      StoredIds stored = store.readBack();
      String report = stored.report(accepted) + "\n" + String.join("\n", logs);
      System.out.printf(
          "StoreDownAcrossRestartsTest [%s, %d runs, %s]: %s%n",
          queue, runsWhileDown, ending, stored.report(accepted));
      assertThat(stored.foreign()).as("foreign lines").isEmpty();
      assertThat(stored.missing(accepted)).as("accepted, not stored; %s", report).isEmpty();
      assertThat(stored.duplicates()).as("stored twice; %s", report).isEmpty();
      assertThat(stored.notAccepted(accepted)).as("stored, never accepted").isEmpty();
    }
  }
}
