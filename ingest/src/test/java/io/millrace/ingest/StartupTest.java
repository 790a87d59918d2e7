package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.management.HotSpotDiagnosticMXBean;
import io.millrace.ingest.testing.NatsServerProcess;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
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

  @Test
  void aShutdownDuringTheStartWaitsForItAdmitsNothingAndStopsEverything() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = s.getLocalPort();
    }
    IngestService service =
        IngestService.create(TestSupport.config(dir, Map.of("MILLRACE_PORT", "" + port)));
    CompletableFuture<Void> start =
        CompletableFuture.runAsync(
            () -> {
              try {
                service.startUp();
              } catch (Exception e) {
                throw new CompletionException(e);
              }
            });
    // the embedded store takes about a second: the HTTP server answers before the start ends
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (status(port, "/healthz") != 200 && !start.isDone() && System.nanoTime() < deadline) {
      Thread.sleep(2);
    }
    if (!start.isDone()) {
      var r = RawHttp.post(port, "application/json", utf8("{\"payloads\":[1]}"));
      if (r.status() == 202) {
        // admission opens as the start's last step: a 202 means it is all but returned
        assertThat(start).as("a 202 before the start ended").succeedsWithin(Duration.ofMillis(200));
      } else {
        assertThat(r.status()).as("%s", r).isEqualTo(503);
        assertThat(r.text()).contains("starting");
      }
    }
    IngestService.ShutdownReport report = service.shutdown(); // waits for the start
    assertThat(start).succeedsWithin(Duration.ofSeconds(1));
    assertThat(report.spilled()).isZero();
    assertThat(status(port, "/healthz")).as("the server is stopped").isEqualTo(-1);
    assertThatThrownBy(service::startUp).isInstanceOf(IllegalStateException.class);
    // the embedded store it had started is stopped too: a second start on the same folder works
    try (IngestService again = IngestService.start(TestSupport.config(dir, Map.of()))) {
      assertThat(RawHttp.get(again.port(), "/healthz").status()).isEqualTo(200);
    }
  }

  @Test
  void aShutdownBeforeTheStartMeansItNeverStarts() throws Exception {
    IngestService service = IngestService.create(TestSupport.config(dir, Map.of()));
    assertThat(service.shutdown().stored()).isZero();
    assertThatThrownBy(service::startUp).isInstanceOf(IllegalStateException.class);
  }

  static int status(int port, String path) {
    try {
      return RawHttp.get(port, path).status();
    } catch (IOException e) {
      return -1;
    }
  }

  @Test
  void aStartThatFailsAfterTheQueueConnectedLeavesNoNatsThreadBehind() throws Exception {
    List<String> before = natsThreads();
    try (NatsServerProcess nats = NatsServerProcess.start(dir.resolve("nats"))) {
      Path data = dir.resolve("data");
      // a file where the embedded store's folder must go: the store fails, after the queue
      Files.createDirectories(data);
      Files.writeString(data.resolve("s3"), "not a folder");
      assertThatThrownBy(
              () ->
                  IngestService.start(
                      TestSupport.config(data, Map.of("MILLRACE_QUEUE", nats.url()))))
          .isInstanceOf(IOException.class);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                assertThat(connectionsTo(nats.port()))
                    .as("connections to NATS after the failed start")
                    .isZero();
                assertThat(natsThreads())
                    .as("NATS client threads after the failed start")
                    .isSubsetOf(before);
              });
    }
  }

  /** {@return the names of live threads, virtual ones included, that mention nats} */
  static List<String> natsThreads() throws IOException {
    Path dump = Files.createTempFile("threads", ".json");
    try {
      Files.delete(dump);
      ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
          .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
      Matcher m = THREAD_NAME.matcher(Files.readString(dump));
      List<String> names = new ArrayList<>();
      while (m.find()) {
        if (m.group(1).toLowerCase(Locale.ROOT).contains("nats")) {
          names.add(m.group(1));
        }
      }
      return names;
    } finally {
      Files.deleteIfExists(dump);
    }
  }

  private static final Pattern THREAD_NAME = Pattern.compile("\"name\": \"([^\"]*)\"");

  /** {@return established TCP connections from this machine to the port on 127.0.0.1} */
  static long connectionsTo(int port) throws IOException {
    // 127.0.0.1 as IPv4, or IPv4-mapped in /proc/net/tcp6
    String remote = String.format(Locale.ROOT, "0100007F:%04X", port);
    long n = 0;
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      try (var lines = Files.lines(Path.of(table))) {
        n +=
            lines
                .skip(1)
                .map(l -> l.trim().split("\\s+"))
                .filter(f -> f[2].endsWith(remote) && f[3].equals("01"))
                .count();
      }
    }
    return n;
  }
}
