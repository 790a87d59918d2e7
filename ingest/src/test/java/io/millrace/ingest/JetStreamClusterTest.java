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
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two ingest processes and two worker processes sharing one JetStream work stream on a private
 * nats-server: 100,000 unique payloads posted round robin to both ingest processes are all stored,
 * each exactly once (read back through the S3 API and counted by the payloads' own ids), the stream
 * ends empty, and both workers took a share of the work.
 */
@Timeout(180)
class JetStreamClusterTest {
  static final int PAYLOADS = 100_000;

  @TempDir Path dir;

  @Test
  void twoIngestAndTwoWorkerProcessesStoreEveryPayloadExactlyOnce() throws Exception {
    long t0 = System.nanoTime();
    try (JetStreamRig rig = JetStreamRig.start(dir, Map.of())) {
      try {
        List<ServiceProcess> ps = rig.startServices("ingest", "ingest", "worker", "worker");
        List<ServiceProcess> ingest = ps.subList(0, 2);
        List<ServiceProcess> workers = ps.subList(2, 4);
        long started = System.nanoTime();

        LoadClient load =
            new LoadClient(
                ingest.stream().map(ServiceProcess::port).toList(),
                8,
                100,
                PAYLOADS,
                "cl" + Long.toString(System.nanoTime() % 1_000_000, 36),
                0,
                Duration.ofSeconds(60));
        try (load) {
          load.start().await(Duration.ofSeconds(120));
        }
        long loaded = System.nanoTime();
        assertThat(load.accepted()).as("admitted payloads; %s", load.summary()).hasSize(PAYLOADS);

        Awaitility.await(
                "both workers together stored " + PAYLOADS + " payloads and the stream is empty")
            .atMost(Duration.ofSeconds(90))
            .pollInterval(Duration.ofMillis(250))
            .ignoreExceptions()
            .until(() -> stored(workers) >= PAYLOADS && rig.queueState().empty());
        long drained = System.nanoTime();

        for (ServiceProcess w : workers) {
          assertThat(w.metric("millrace_payloads_stored_total"))
              .as("%s stored a share of the work", w.name())
              .isPositive();
        }
        assertThat(stored(workers))
            .as("payloads stored, by the workers' metrics")
            .isEqualTo(PAYLOADS);
        double acceptedByMetric = 0;
        for (ServiceProcess i : ingest) {
          double a = i.metric("millrace_payloads_accepted_total");
          assertThat(a).as("%s admitted a share of the load", i.name()).isPositive();
          acceptedByMetric += a;
        }
        // each request admitted once: a retry whose first attempt was published after all is a
        // replay,
        // which the metric does not count again
        assertThat(acceptedByMetric)
            .as("payloads accepted, by the ingest processes' metrics")
            .isBetween((double) PAYLOADS - 100 * load.replayedRequests(), (double) PAYLOADS);

        StoredIds stored = rig.readBack();
        String report = stored.report(load.accepted());
        System.out.printf(
            "JetStreamClusterTest: %s; start %d ms, load %d ms, drain %d ms; %s%n",
            report,
            (started - t0) / 1_000_000,
            (loaded - started) / 1_000_000,
            (drained - loaded) / 1_000_000,
            load.summary());
        assertThat(stored.foreign())
            .as("lines that are not a payload as sent; %s", report)
            .isEmpty();
        assertThat(stored.missing(load.accepted()))
            .as("accepted but not stored; %s", report)
            .isEmpty();
        assertThat(stored.duplicates()).as("stored more than once; %s", report).isEmpty();
        assertThat(stored.lines()).as("lines in the store; %s", report).isEqualTo(PAYLOADS);
      } catch (Throwable t) {
        rig.dumpLogs();
        throw t;
      }
    }
  }

  static double stored(List<ServiceProcess> workers) throws Exception {
    double sum = 0;
    for (ServiceProcess w : workers) {
      sum += w.metric("millrace_payloads_stored_total");
    }
    return sum;
  }
}
