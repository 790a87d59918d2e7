package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.QueueContract;
import io.millrace.ingest.testing.TestSupport;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.Nats;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;

/**
 * The queue contract for JetStream (role {@code all}), on the nats-server at 127.0.0.1:4222, each
 * test on its own stream; a restart is a new process on the same stream and consumer.
 */
class JetStreamQueueContractTest extends QueueContract {
  private String stream;
  private int starts;

  @BeforeEach
  void stream() {
    stream = "C" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36).toUpperCase();
  }

  @Override
  protected JobQueue open(Map<String, String> settings) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_QUEUE", TestSupport.NATS_URL);
    env.put("MILLRACE_ROLE", "all");
    env.put("MILLRACE_NATS_STREAM", stream);
    env.put("MILLRACE_NATS_SUBJECT", stream.toLowerCase() + ".payloads");
    env.put("MILLRACE_NATS_DEAD_SUBJECT", stream.toLowerCase() + ".dead");
    env.putAll(settings);
    JetStreamJobQueue q =
        new JetStreamJobQueue(
            TestSupport.config(dir, env),
            new Metrics(),
            "run" + starts++,
            System::currentTimeMillis);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> q.notReadyReason() == null);
    return q;
  }

  @Override
  protected void cleanUp() throws Exception {
    try (Connection admin = Nats.connect(TestSupport.NATS_URL)) {
      for (String s : List.of(stream, stream + "_DEAD")) {
        try {
          admin.jetStreamManagement().deleteStream(s);
        } catch (JetStreamApiException e) {
          // not created
        }
      }
    }
  }
}
