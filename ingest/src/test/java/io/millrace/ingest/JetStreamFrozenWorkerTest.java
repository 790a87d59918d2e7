package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.JetStreamRig;
import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.ServiceProcess;
import io.millrace.ingest.testing.StoredIds;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A zombie worker: frozen with SIGSTOP while it holds messages (in batches fixed, encoded or
 * uploading), for three ack waits, so the other worker takes its messages over and stores them;
 * then resumed with SIGCONT, its late uploads and acks go out. Nothing accepted is lost and no id
 * is stored twice: the late uploads write the batches the ledger fixed (the same key, the same
 * content; the store keeps the first write), and batches the zombie fixes after waking leave out
 * what the other worker claimed meanwhile. Seeded freeze moment, seed printed.
 */
@Timeout(300)
class JetStreamFrozenWorkerTest {
  @TempDir Path dir;

  @Test
  void aWorkerFrozenPastTheAckWaitStoresNothingTwiceWhenItWakes() throws Exception {
    long seed = Long.getLong("millrace.frozen.seed", System.nanoTime());
    Random random = new Random(seed);
    try (JetStreamRig rig = JetStreamRig.start(dir, Map.of("MILLRACE_NATS_ACK_WAIT_MS", "3000"))) {
      try {
        List<ServiceProcess> ps = rig.startServices("ingest", "worker", "worker");
        ServiceProcess zombie = ps.get(1);
        LoadClient load =
            new LoadClient(
                List.of(ps.get(0).port()),
                4,
                50,
                50_000_000L,
                "fz" + Long.toString(seed % 1_000_000, 36).replace('-', 'm'),
                4_000,
                Duration.ofSeconds(60));
        long frozenFor;
        try (load) {
          load.start();
          Thread.sleep(1000 + random.nextInt(1000));
          long before = JetStreamCrashTest.storedSoFar(zombie);
          signal(zombie, "STOP");
          long t = System.nanoTime();
          Thread.sleep(9_000); // three ack waits: the other worker has its messages by then
          load.checkNoFailure();
          signal(zombie, "CONT");
          frozenFor = (System.nanoTime() - t) / 1_000_000;
          System.out.printf(
              "JetStreamFrozenWorkerTest: seed %d, froze %s for %d ms after it had stored %d%n",
              seed, zombie.name(), frozenFor, before);
          Thread.sleep(3_000);
          load.stop();
          load.await(Duration.ofSeconds(60));
        }
        assertThat(load.accepted()).isNotEmpty();
        rig.awaitQueueEmpty(Duration.ofSeconds(120));
        StoredIds stored = rig.readBack();
        String report = stored.report(load.accepted());
        System.out.printf(
            "JetStreamFrozenWorkerTest: %s; zombie stored %d in all; %s%n",
            report, (long) zombie.metric("millrace_payloads_stored_total"), load.summary());
        assertThat(stored.foreign()).as("lines not sent; %s", report).isEmpty();
        assertThat(stored.missing(load.accepted())).as("lost; %s", report).isEmpty();
        assertThat(stored.duplicates())
            .as("ids stored more than once (objects: %s); %s", stored.duplicatePairs(), report)
            .isEmpty();
        assertThat(rig.deadLetteredIds()).as("dead-lettered").isEmpty();
      } catch (Throwable t) {
        rig.dumpLogs();
        throw t;
      }
    }
  }

  static void signal(ServiceProcess p, String sig) throws Exception {
    Process k =
        new ProcessBuilder("kill", "-" + sig, Long.toString(p.process().pid())).inheritIO().start();
    assertThat(k.waitFor()).as("kill -%s %s", sig, p.name()).isZero();
  }
}
