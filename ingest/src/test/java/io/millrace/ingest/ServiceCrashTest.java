package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.CrashLoad;
import io.millrace.ingest.testing.NatsServerProcess;
import io.millrace.ingest.testing.ServiceProcess;
import io.millrace.ingest.testing.StandaloneStore;
import io.millrace.ingest.testing.StoredIds;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * kill -9 of the whole service at random moments under load, restarting it each time on the same
 * data folder: nothing answered 202 is lost, nothing is stored twice.
 *
 * <p>The service runs in a child JVM against a store in the test JVM ({@link StandaloneStore}),
 * which outlives every kill. Four client threads post requests of 10 unique payloads without pause
 * ({@link CrashLoad}: an id counts as accepted only on a 202; a request cut off without an answer
 * is ambiguous and never resent). Each round launches the service on one fixed port and kills it
 * with SIGKILL after a uniform random 0.3–3 s from launch, so some kills land in start-up or
 * replay, most under load with uploads in flight. After the last round the service is started once
 * more, the load stops, the queue drains, and the store is read back through the S3 API: lost =
 * accepted − stored must be empty, no id may be stored more than once, and nothing may be stored
 * that was neither accepted nor ambiguous.
 *
 * <p>Rounds: 3 by default; the full loop is {@code -Dmillrace.servicecrash.rounds=20}. The seed is
 * printed; {@code -Dmillrace.crash.seed=<seed>} replays the same kill moments. Queue modes: {@code
 * -Dmillrace.queues=disk} by default; {@code -Dmillrace.queues=memory} shows the test failing on
 * the volatile queue, which loses what it held at each kill.
 */
class ServiceCrashTest {
  static final int ROUNDS = Integer.getInteger("millrace.servicecrash.rounds", 3);

  @TempDir Path dir;

  /** {@return the queue modes under test: {@code -Dmillrace.queues}, comma-separated} */
  static List<String> queues() {
    return List.of(System.getProperty("millrace.queues", "disk").split(","));
  }

  /** What one round did. */
  record Round(int round, long killAfterMs, boolean listening, int acceptedSoFar, String stored) {}

  @ParameterizedTest(name = "queue {0}")
  @MethodSource("queues")
  @Timeout(1200)
  void killNineAtRandomMomentsLosesNothingAcceptedAndStoresNothingTwice(String queue)
      throws Exception {
    killNineUnderLoad(queue, false);
  }

  /**
   * The same with a careful client: every request carries an {@code Idempotency-Key}, and one cut
   * off by a kill is sent again with it to the restarted service until it gets an answer. An id
   * stored twice then means the key was forgotten across the restart.
   */
  @ParameterizedTest(name = "queue {0}")
  @MethodSource("queues")
  @Timeout(1200)
  void killNineWithClientsResendingUnderTheirIdempotencyKeysStoresNothingTwice(String queue)
      throws Exception {
    killNineUnderLoad(queue, true);
  }

  private void killNineUnderLoad(String queue, boolean keys) throws Exception {
    long seed = Long.getLong("millrace.crash.seed", System.nanoTime());
    Random random = new Random(seed);
    String name = queue + (keys ? ", resending with keys" : "");
    System.out.printf("ServiceCrashTest [%s]: seed %d, rounds %d%n", name, seed, ROUNDS);
    try (StandaloneStore store = StandaloneStore.start(dir.resolve("store"))) {
      int port = NatsServerProcess.freePort();
      Map<String, String> env = store.serviceEnv(dir.resolve("data"), queue);
      env.put("MILLRACE_DRAIN_TIMEOUT_MS", "10000");
      List<Round> rounds = new ArrayList<>();
      List<ServiceProcess> all = new ArrayList<>();
      String prefix = "sc" + Long.toString(Math.abs(seed % 1_000_000_000L), 36);
      long t0 = System.nanoTime();
      try (CrashLoad load =
          new CrashLoad(() -> port, 4, 10, prefix, Duration.ofSeconds(90), keys)) {
        try {
          load.start();
          for (int r = 0; r < ROUNDS; r++) {
            long delay = 300 + random.nextInt(2701);
            ServiceProcess p = ServiceProcess.launch("run-" + r, dir, env, port);
            all.add(p);
            Thread.sleep(delay);
            load.checkNoFailure();
            boolean listening = p.status("/healthz") == 200;
            String stored = listening ? metric(p, "millrace_payloads_stored_total") : "-";
            p.kill9();
            rounds.add(new Round(r, delay, listening, load.accepted().size(), stored));
          }
          ServiceProcess last = ServiceProcess.launch("final", dir, env, port);
          all.add(last);
          awaitStatus(last, "/readyz", 200, ServiceProcess.START);
          Thread.sleep(1000); // the load runs against the last one too
          load.stopAndAwait(Duration.ofSeconds(120));
          long loaded = System.nanoTime();
          awaitDrained(last, Duration.ofSeconds(120));
          long drained = System.nanoTime();
          last.sigterm();
          last.waitFor(Duration.ofSeconds(60)); // 143: ended by the signal, after its drain

          StoredIds stored = store.readBack();
          Set<String> accepted = Set.copyOf(load.accepted());
          Set<String> lost = stored.missing(accepted);
          Set<String> phantom = stored.notAccepted(accepted);
          phantom.removeAll(load.ambiguous());
          long ambiguousStored =
              load.ambiguous().stream().filter(stored.counts()::containsKey).count();
          System.out.printf(
              "ServiceCrashTest [%s]: seed %d, rounds %d, accepted %d, lost %d, ids stored twice"
                  + " or more %d (%d extra lines), ambiguous %d (stored %d), stored but never"
                  + " sent %d; objects %d; load+kills %d ms, drain %d ms; %s%n  rounds: %s%n",
              name,
              seed,
              ROUNDS,
              accepted.size(),
              lost.size(),
              stored.duplicates().size(),
              stored.duplicateLines(),
              load.ambiguous().size(),
              ambiguousStored,
              phantom.size(),
              stored.objects(),
              (loaded - t0) / 1_000_000,
              (drained - loaded) / 1_000_000,
              load.summary(),
              rounds);
          if (!stored.duplicates().isEmpty()) {
            System.out.println(
                "  objects holding the same ids (first + later: ids): " + stored.duplicatePairs());
          }
          String report = stored.report(accepted) + "; seed " + seed;
          assertThat(accepted).as("payloads accepted under the kills").hasSizeGreaterThan(0);
          assertThat(stored.foreign()).as("lines that are not a payload as sent").isEmpty();
          assertThat(lost)
              .as("accepted (202) but not stored: %d; %s", lost.size(), report)
              .isEmpty();
          assertThat(stored.duplicates()).as("ids stored more than once; %s", report).isEmpty();
          assertThat(phantom).as("stored, yet never sent or refused; %s", report).isEmpty();
        } catch (Throwable t) {
          for (ServiceProcess p : all) {
            System.out.println(tail(p.logs(), 4000));
          }
          throw t;
        } finally {
          for (ServiceProcess p : all) {
            p.close();
          }
        }
      }
    }
  }

  /** Waits until the queue holds nothing for half a second, on the service's own gauge. */
  static void awaitDrained(ServiceProcess p, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    long emptySince = 0;
    while (true) {
      double left = p.metric("millrace_queue_payloads");
      long now = System.nanoTime();
      if (left == 0) {
        if (emptySince == 0) {
          emptySince = now;
        } else if (now - emptySince > 500_000_000L) {
          return;
        }
      } else {
        emptySince = 0;
      }
      if (now > deadline) {
        throw new AssertionError(
            p.name() + " still holds " + left + " payloads after " + timeout + "\n" + p.logs());
      }
      Thread.sleep(50);
    }
  }

  /** Waits until GET path answers status. */
  static void awaitStatus(ServiceProcess p, String path, int status, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int last;
    while ((last = p.status(path)) != status) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        throw new AssertionError(
            path + " answered " + last + ", not " + status + ", for " + timeout + "\n" + p.logs());
      }
      Thread.sleep(10);
    }
  }

  private static String metric(ServiceProcess p, String name) {
    try {
      return Long.toString((long) p.metric(name));
    } catch (Exception | AssertionError e) {
      return "?";
    }
  }

  static String tail(String s, int chars) {
    return s.length() <= chars ? s : "..." + s.substring(s.length() - chars);
  }
}
