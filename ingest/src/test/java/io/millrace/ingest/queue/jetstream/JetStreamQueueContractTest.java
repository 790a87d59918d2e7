package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.QueueContract;
import io.millrace.ingest.testing.TestSupport;
import java.time.Duration;
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
    Map<String, String> env = TestSupport.natsStream(stream);
    env.put("MILLRACE_ROLE", "all");
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
    TestSupport.deleteStreams(stream);
  }
}
