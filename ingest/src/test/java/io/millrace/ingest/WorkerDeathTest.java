package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.jetstream.JetStreamJobQueue;
import io.millrace.ingest.store.ObjectStore;
import io.millrace.ingest.testing.ForwardingStore;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker pipeline that dies (an error no policy handles; here thrown by the store) leaves the
 * node not ready for good, with a reason, whatever the store's health check says; on JetStream the
 * messages it held go back to the stream, so a healthy worker stores them.
 */
@Timeout(90)
class WorkerDeathTest {
  static final String JSON = "application/json";

  @TempDir Path dir;

  /** Kills the pipeline on the first upload; answers health checks as the real store does. */
  static final class DyingStore extends ForwardingStore {
    DyingStore(ObjectStore real) {
      super(real);
    }

    @Override
    public void put(String key, byte[] body, String contentType, String contentEncoding) {
      throw new Error("test: the worker pipeline dies on this upload");
    }

    @Override
    public boolean putIfAbsent(
        String key, byte[] body, String contentType, String contentEncoding) {
      throw new Error("test: the worker pipeline dies on this upload");
    }
  }

  static void awaitNotReadyFor(int port, String why) {
    Awaitility.await("/readyz 503 saying " + why)
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              RawHttp.Response r = RawHttp.get(port, "/readyz");
              return r.status() == 503 && r.text().contains(why);
            });
  }

  @Test
  void aDeadPipelineMakesTheMemoryNodeNotReadyForGood() throws Exception {
    try (IngestService s =
        IngestService.start(TestSupport.config(dir, Map.of()), null, DyingStore::new)) {
      int p = s.port();
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> RawHttp.get(p, "/readyz").status() == 200);
      assertThat(RawHttp.post(p, JSON, utf8("{\"payloads\":[{\"a\":1}]}")).status()).isEqualTo(202);
      awaitNotReadyFor(p, "worker pipeline failed");
      Thread.sleep(4500); // more than two rounds of the store's health check
      RawHttp.Response r = RawHttp.get(p, "/readyz");
      assertThat(r.status()).as("still not ready: " + r.text()).isEqualTo(503);
      assertThat(r.text()).contains("worker pipeline failed");
    }
  }

  @Test
  void aDeadJetStreamWorkerGivesItsMessagesBackToHealthyWorkers() throws Exception {
    String stream = "W" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36);
    Map<String, String> env = TestSupport.natsStream(stream);
    env.put("MILLRACE_NATS_CONSUMER", "workers");
    env.put("MILLRACE_NATS_ACK_WAIT_MS", "2000");
    env.put("MILLRACE_ROLE", "all");
    JetStreamJobQueue healthy = null;
    try (IngestService s =
        IngestService.start(TestSupport.config(dir.resolve("dying"), env), null, DyingStore::new)) {
      int p = s.port();
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> RawHttp.get(p, "/readyz").status() == 200);
      assertThat(RawHttp.post(p, JSON, utf8("{\"payloads\":[{\"held\":1}]}")).status())
          .isEqualTo(202);
      awaitNotReadyFor(p, "worker pipeline failed");

      // the dying node is still up; a healthy worker must get the message it took
      env.put("MILLRACE_ROLE", "worker");
      Config w = TestSupport.config(dir.resolve("healthy"), env);
      healthy = new JetStreamJobQueue(w, new Metrics(), "healthy", System::currentTimeMillis);
      // the dying node had fixed its batch in the ledger before the upload killed it: the healthy
      // worker gets that very batch back, rebuilt, not the payload as a new job
      Iterator<FixedBatch> rebuilt = healthy.source().orElseThrow().rebuilt();
      FixedBatch b = CompletableFuture.supplyAsync(rebuilt::next).get(15, TimeUnit.SECONDS);
      assertThat(b.jobs()).hasSize(1);
      assertThat(new String(b.jobs().getFirst().payload(), StandardCharsets.UTF_8))
          .isEqualTo("{\"held\":1}");
      healthy.source().orElseThrow().ack(b);

      RawHttp.Response r = RawHttp.get(p, "/readyz");
      assertThat(r.status()).as("still not ready: " + r.text()).isEqualTo(503);
    } finally {
      if (healthy != null) {
        healthy.close();
      }
      TestSupport.deleteStreams(stream);
    }
  }
}
