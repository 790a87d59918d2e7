package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.metric;
import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.store.EmbeddedS3;
import io.millrace.ingest.testing.FaultProxy;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * SIGTERM under load, to the service in a child JVM: every accepted payload is stored or spilled,
 * the spill is replayed by the next start, and in the end every accepted payload is in the store
 * exactly once.
 */
@Timeout(240)
class SigtermTest {
  private static final Pattern LISTENING = Pattern.compile("listening on [^:]+:(\\d+)");

  @TempDir Path dir;

  record Child(Process process, int port, Path stderr) {}

  Child startChild(Map<String, String> env) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path err = Files.createTempFile(dir, "child", ".err");
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-Xmx256m",
            "-cp",
            System.getProperty("java.class.path"),
            "io.millrace.ingest.Main");
    pb.environment().putAll(env);
    pb.redirectError(err.toFile());
    Process p = pb.start();
    CompletableFuture<Integer> port = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  Matcher m = LISTENING.matcher(line);
                  if (m.find()) {
                    port.complete(Integer.parseInt(m.group(1)));
                  }
                }
              } catch (IOException e) {
                // child gone
              }
              port.completeExceptionally(new IllegalStateException("the child printed no port"));
            });
    try {
      return new Child(p, port.get(30, TimeUnit.SECONDS), err);
    } catch (Exception e) {
      p.destroyForcibly();
      throw new AssertionError("child did not start: " + Files.readString(err), e);
    }
  }

  @Test
  void sigtermUnderLoadLosesNothingAndDuplicatesNothing() throws Exception {
    try (EmbeddedS3 s3 = EmbeddedS3.start(dir.resolve("store"), 0);
        FaultProxy proxy = new FaultProxy(s3.endpoint().getPort())) {
      try (S3Client c = TestSupport.client(s3)) {
        c.createBucket(b -> b.bucket("millrace"));
      }
      Map<String, String> env = new HashMap<>();
      env.put("MILLRACE_HOST", "127.0.0.1");
      env.put("MILLRACE_PORT", "0");
      env.put("MILLRACE_DATA_DIR", dir.resolve("child").toString());
      env.put("MILLRACE_QUEUE", "memory");
      env.put("MILLRACE_S3_ENDPOINT", proxy.endpoint().toString());
      env.put("MILLRACE_S3_TIMEOUT_MS", "1000");
      env.put("MILLRACE_DRAIN_TIMEOUT_MS", "1500");
      env.put("MILLRACE_BATCH_MAX_PAYLOADS", "25");
      env.put("MILLRACE_BATCH_MAX_AGE_MS", "100");
      env.put("AWS_ACCESS_KEY_ID", EmbeddedS3.ACCESS_KEY);
      env.put("AWS_SECRET_ACCESS_KEY", s3.secretKey());
      env.put("AWS_REGION", "us-east-1");

      Child first = startChild(env);
      Set<String> accepted = ConcurrentHashMap.newKeySet();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger seq = new AtomicInteger();
      List<Thread> clients = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        int client = t;
        clients.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      while (!stop.get()) {
                        int r = seq.incrementAndGet();
                        List<String> ps = new ArrayList<>();
                        for (int i = 0; i < 10; i++) {
                          ps.add("{\"c\":" + client + ",\"r\":" + r + ",\"i\":" + i + "}");
                        }
                        try {
                          var resp =
                              RawHttp.post(
                                  first.port(),
                                  "application/json",
                                  utf8("{\"payloads\":[" + String.join(",", ps) + "]}"));
                          if (resp.status() == 202) {
                            accepted.addAll(ps);
                          } else if (resp.status() != 503
                              && resp.status() != 429
                              && resp.status() != -1) {
                            throw new AssertionError("unexpected " + resp);
                          }
                        } catch (IOException e) {
                          // the child has stopped listening
                        }
                      }
                    }));
      }
      Thread.sleep(1200); // stored as it goes
      proxy.fault(FaultProxy.Fault.STALL); // from here on nothing gets stored
      Thread.sleep(1000);
      first.process().destroy(); // SIGTERM
      assertThat(first.process().waitFor(40, TimeUnit.SECONDS))
          .as("child exits after SIGTERM")
          .isTrue();
      stop.set(true);
      for (Thread c : clients) {
        c.join(30_000);
      }
      String log = Files.readString(first.stderr());
      assertThat(log).contains("shutdown in").contains("spilled");
      Path spill = dir.resolve("child").resolve("spill");
      List<Path> spilled;
      try (var files = Files.list(spill)) {
        spilled = files.toList();
      }
      assertThat(spilled).as("spill files; log:%n%s", log).isNotEmpty();
      assertThat(accepted).isNotEmpty();

      // restart with the store healthy: the spill is replayed and stored
      proxy.fault(FaultProxy.Fault.NONE);
      Child second = startChild(env);
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> metric(second.port(), "millrace_queue_payloads") == 0);
      assertThat(metric(second.port(), "millrace_payloads_replayed_total")).isGreaterThan(0);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                try (var files = Files.list(spill)) {
                  return files.findAny().isEmpty();
                }
              });
      second.process().destroy();
      assertThat(second.process().waitFor(40, TimeUnit.SECONDS)).isTrue();
      assertThat(Files.readString(second.stderr())).contains("0 spilled");

      try (S3Client c = TestSupport.client(s3)) {
        Map<String, Integer> counts = TestSupport.payloadCounts(TestSupport.readAll(c, "millrace"));
        assertThat(counts.keySet()).as("every accepted payload is stored").containsAll(accepted);
        assertThat(counts.values()).as("none twice").containsOnly(1);
      }
    }
  }
}
