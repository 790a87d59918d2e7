package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.JetStreamRig;
import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.ServiceProcess;
import io.millrace.ingest.testing.StoredIds;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Worker processes killed with SIGKILL at random moments while load runs lose nothing that was
 * accepted: two ingest and two worker processes share a JetStream work stream (ack wait 3 s, so
 * what a dead worker held is redelivered soon); a random worker is killed after a uniform random
 * 0.2–1.5 s and replaced, {@code millrace.crash.kills} times (4 by default; the full run is {@code
 * -Dmillrace.crash.kills=20}). In the end every accepted payload is in the store, and none twice: a
 * batch stored and not acknowledged when its worker died is rebuilt from the batch ledger and
 * rewritten under the same key, never stored again in another batch (ids counted by the payloads'
 * own ids; any duplicate fails the test, the objects holding it printed).
 *
 * <p>The full run: {@code mvn -pl ingest -am -Dtest=JetStreamCrashTest
 * -Dsurefire.failIfNoSpecifiedTests=false -Dmillrace.crash.kills=20 test}.
 */
@Timeout(900)
class JetStreamCrashTest {
  @TempDir Path dir;

  @Test
  void killingWorkersAtRandomMomentsLosesNothingAccepted() throws Exception {
    int kills = Integer.getInteger("millrace.crash.kills", 4);
    long seed = Long.getLong("millrace.crash.seed", System.nanoTime());
    Random random = new Random(seed);
    long t0 = System.nanoTime();
    // -Dmillrace.crash.ledgerTtlMs=0 runs the workers without the batch ledger: the test then
    // shows the duplicates it exists to catch
    Map<String, String> env =
        Map.of(
            "MILLRACE_NATS_ACK_WAIT_MS",
            "3000",
            "MILLRACE_NATS_LEDGER_TTL_MS",
            System.getProperty("millrace.crash.ledgerTtlMs", "86400000"));
    try (JetStreamRig rig = JetStreamRig.start(dir, env)) {
      try {
        List<ServiceProcess> ps = rig.startServices("ingest", "ingest", "worker", "worker");
        List<Integer> ingestPorts = List.of(ps.get(0).port(), ps.get(1).port());
        List<ServiceProcess> workers = new ArrayList<>(ps.subList(2, 4));
        long started = System.nanoTime();

        // paced, so the load runs as long as the kills do: about 5,000 payloads/s
        LoadClient load =
            new LoadClient(
                ingestPorts,
                4,
                50,
                50_000_000L,
                "cr" + Long.toString(seed % 1_000_000, 36).replace('-', 'm'),
                5_000,
                Duration.ofSeconds(60));
        List<String> killLog = new ArrayList<>();
        try (load) {
          load.start();
          for (int k = 0; k < kills; k++) {
            long delay = 200 + random.nextInt(1301);
            Thread.sleep(delay);
            load.checkNoFailure();
            int victim = random.nextInt(workers.size());
            ServiceProcess w = workers.get(victim);
            long storedBefore = storedSoFar(w);
            long inFlight = ackPending(rig);
            w.kill9();
            killLog.add(
                w.name()
                    + " after "
                    + delay
                    + " ms (had stored "
                    + storedBefore
                    + "; messages held by all"
                    + " workers "
                    + inFlight
                    + ")");
            workers.set(victim, rig.startService("worker"));
          }
          load.stop();
          load.await(Duration.ofSeconds(120));
        }
        long loaded = System.nanoTime();
        assertThat(load.accepted()).as("the load was admitted; %s", load.summary()).isNotEmpty();

        rig.awaitQueueEmpty(Duration.ofSeconds(180));
        long drained = System.nanoTime();

        List<String> dead = rig.deadLetteredIds();
        double deadByMetric = 0;
        double redelivered = 0;
        for (ServiceProcess w : workers) {
          deadByMetric += w.metric("millrace_nats_dead_lettered_messages_total");
          redelivered += w.metric("millrace_nats_redelivered_messages_total");
        }
        StoredIds stored = rig.readBack();
        Set<String> missing = stored.missing(load.accepted());
        Set<String> lost = new HashSet<>(missing);
        dead.forEach(lost::remove);
        String report = stored.report(load.accepted());
        System.out.printf(
            "JetStreamCrashTest: seed %d, kills %d, accepted %d, stored lines %d, distinct %d,"
                + " duplicates %d ids (%d extra lines), dead-lettered ids %d, redelivered messages"
                + " taken by the surviving workers %d; start %d ms, load+kills %d ms, drain %d ms;"
                + " %s%n  kills: %s%n",
            seed,
            kills,
            load.accepted().size(),
            stored.lines(),
            stored.distinct(),
            stored.duplicates().size(),
            stored.duplicateLines(),
            dead.size(),
            (long) redelivered,
            (started - t0) / 1_000_000,
            (loaded - started) / 1_000_000,
            (drained - loaded) / 1_000_000,
            load.summary(),
            killLog);
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
        assertThat(lost)
            .as("accepted, neither stored nor dead-lettered (%d); %s", lost.size(), report)
            .isEmpty();
        assertThat(dead)
            .as("dead-lettered ids (the store was healthy, so none is expected)")
            .isEmpty();
        assertThat(deadByMetric)
            .as("millrace_nats_dead_lettered_messages_total on the surviving workers")
            .isZero();
        assertThat(missing).as("accepted but not stored; %s", report).isEmpty();
        assertThat(stored.duplicates())
            .as(
                "ids stored more than once (%d; objects: %s); %s",
                stored.duplicates().size(), stored.duplicatePairs(), report)
            .isEmpty();
      } catch (Throwable t) {
        rig.dumpLogs();
        throw t;
      }
    }
  }

  /**
   * {@return messages delivered to workers and not yet acknowledged, -1 if the broker cannot tell}
   */
  static long ackPending(JetStreamRig rig) {
    try {
      return rig.queueState().ackPending();
    } catch (Exception e) {
      return -1;
    }
  }

  /** {@return the worker's stored payloads so far, -1 if it cannot tell} */
  static long storedSoFar(ServiceProcess w) {
    try {
      return (long) w.metric("millrace_payloads_stored_total");
    } catch (Exception | AssertionError e) {
      return -1;
    }
  }
}
