package io.millrace.ingest.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.helidon.webserver.WebServer;
import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.memory.MemoryJobQueue;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admission follows the service's phase, over a real socket: nothing is admitted while it starts
 * (503 {@code starting}, Retry-After 1) or shuts down (503 {@code shutting-down}); the probes
 * answer in every phase and readiness names the phase.
 */
@Timeout(30)
class PhaseGateTest {
  @TempDir Path dir;

  @Test
  void payloadsAreAdmittedOnlyWhileServing() throws Exception {
    Config config = TestSupport.config(dir, Map.of());
    MutableState state = new MutableState();
    Metrics metrics = new Metrics();
    try (MemoryJobQueue queue = MemoryJobQueue.open(config, "run", () -> 0L)) {
      WebServer server =
          new HttpApi(config, queue.intake().orElseThrow(), metrics, state).startServer();
      try {
        int port = server.port();
        byte[] body = "{\"payloads\":[1,2]}".getBytes(StandardCharsets.UTF_8);

        var starting = RawHttp.post(port, "application/json", body);
        assertThat(starting.status()).isEqualTo(503);
        assertThat(starting.header("content-type")).isEqualTo(Problems.CONTENT_TYPE);
        assertThat(starting.header("retry-after")).isEqualTo("1");
        assertThat(starting.text()).contains("urn:millrace:problem:starting");
        assertThat(RawHttp.get(port, "/healthz").status()).isEqualTo(200);
        var notReady = RawHttp.get(port, "/readyz");
        assertThat(notReady.status()).isEqualTo(503);
        assertThat(notReady.text()).contains("starting");
        assertThat(queue.budget().payloads()).as("nothing admitted while starting").isZero();

        state.phase = ServiceState.Phase.SERVING;
        assertThat(RawHttp.post(port, "application/json", body).status()).isEqualTo(202);
        assertThat(RawHttp.get(port, "/readyz").status()).isEqualTo(200);

        state.phase = ServiceState.Phase.SHUTTING_DOWN;
        var down = RawHttp.post(port, "application/json", body);
        assertThat(down.status()).isEqualTo(503);
        assertThat(down.header("retry-after")).isEqualTo("5");
        assertThat(down.text()).contains("urn:millrace:problem:shutting-down");
        assertThat(RawHttp.get(port, "/readyz").text()).contains("shutting down");
        assertThat(queue.budget().payloads()).isEqualTo(2);
      } finally {
        server.stop();
      }
    }
  }

  static final class MutableState implements ServiceState {
    volatile Phase phase = Phase.STARTING;

    @Override
    public Phase phase() {
      return phase;
    }

    @Override
    public List<String> notReadyReasons() {
      return List.of();
    }
  }
}
