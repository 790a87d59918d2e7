package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.JetStreamRig;
import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.NatsServerProcess;
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
 * The exactly-once path on a 3-node JetStream cluster (stream, dead letters and batch ledger with
 * three replicas): under load, a random worker is killed with SIGKILL and replaced twice, and one
 * nats-server (not the one the test reads through) is killed with SIGKILL and restarted. Nothing
 * accepted is lost and no id is stored twice. Seeded, seed printed.
 */
@Timeout(400)
class JetStreamClusterCrashTest {
  @TempDir Path dir;

  @Test
  void workerAndServerKillsOnAClusterLoseNothingAndStoreNothingTwice() throws Exception {
    long seed = Long.getLong("millrace.crash.seed", System.nanoTime());
    Random random = new Random(seed);
    StringBuilder log = new StringBuilder();
    try (JetStreamRig rig =
        JetStreamRig.startCluster(dir, Map.of("MILLRACE_NATS_ACK_WAIT_MS", "3000"))) {
      try {
        List<ServiceProcess> ps = rig.startServices("ingest", "worker", "worker");
        List<ServiceProcess> workers = new ArrayList<>(ps.subList(1, 3));
        LoadClient load =
            new LoadClient(
                List.of(ps.get(0).port()),
                4,
                50,
                50_000_000L,
                "cc" + Long.toString(seed % 1_000_000, 36).replace('-', 'm'),
                3_000,
                Duration.ofSeconds(60));
        try (load) {
          load.start();
          for (int k = 0; k < 2; k++) {
            Thread.sleep(500 + random.nextInt(1500));
            int victim = random.nextInt(workers.size());
            workers.get(victim).kill9();
            log.append("killed ").append(workers.get(victim).name()).append("; ");
            workers.set(victim, rig.startService("worker"));
          }
          NatsServerProcess node = rig.servers.get(1 + random.nextInt(2));
          Thread.sleep(500 + random.nextInt(1000));
          node.kill9();
          log.append("killed a nats-server; ");
          Thread.sleep(3000);
          node.restart();
          log.append("restarted it; ");
          Thread.sleep(3000);
          load.stop();
          load.await(Duration.ofSeconds(90));
        }
        assertThat(load.accepted()).as("admitted; %s", load.summary()).isNotEmpty();
        rig.awaitQueueEmpty(Duration.ofSeconds(180));
        List<String> dead = rig.deadLetteredIds();
        StoredIds stored = rig.readBack();
        Set<String> lost = new HashSet<>(stored.missing(load.accepted()));
        dead.forEach(lost::remove);
        String report = stored.report(load.accepted());
        System.out.printf(
            "JetStreamClusterCrashTest: seed %d, %s; dead-lettered %d; %s; %s%n",
            seed, report, dead.size(), log, load.summary());
        assertThat(stored.foreign()).as("lines not sent; %s", report).isEmpty();
        assertThat(lost).as("lost; %s", report).isEmpty();
        assertThat(stored.duplicates())
            .as("ids stored more than once (objects: %s); %s", stored.duplicatePairs(), report)
            .isEmpty();
      } catch (Throwable t) {
        rig.dumpLogs();
        throw t;
      }
    }
  }
}
