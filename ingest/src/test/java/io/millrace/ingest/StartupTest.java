package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class StartupTest {
  @TempDir Path dir;

  @Test
  void aTakenPortFailsTheStartWithAMessageAndLeavesNothingRunning() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      int port = taken.getLocalPort();
      assertThatThrownBy(
              () ->
                  IngestService.start(
                      TestSupport.config(dir, Map.of("MILLRACE_PORT", Integer.toString(port)))))
          .hasMessageContaining("could not listen on 127.0.0.1:" + port);
    }
    // the embedded store it had started is stopped again: a second start on the same folder works
    try (IngestService s = IngestService.start(TestSupport.config(dir, Map.of()))) {
      assertThat(RawHttp.get(s.port(), "/healthz").status()).isEqualTo(200);
    }
  }
}
