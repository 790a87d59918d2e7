package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.StoredIds;
import io.millrace.ingest.testing.TestSupport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Real HTTP/1.0 clients against the service: ApacheBench ({@code ab}, Debian's apache2-utils), with
 * and without keep-alive, and Debian's nginx in front with its default proxy settings ({@code
 * proxy_pass} alone, which speaks HTTP/1.0 to the upstream). {@code .ci/run} installs both; a
 * missing one fails the test with the package to install.
 *
 * <p>Accounting is exact: every body ab sends holds the same payloads, so after the run each of
 * them must be stored exactly as many times as ab got a 2xx, and nothing else may be stored.
 */
@Timeout(300)
class Http10ClientsTest {
  static final int PER_BODY = 3;

  static Path tool(String path, String debianPackage) {
    Path p = Path.of(path);
    assertThat(Files.isExecutable(p))
        .as("%s is missing: install the Debian package %s (.ci/run does)", path, debianPackage)
        .isTrue();
    return p;
  }

  record AbResult(long complete, long failed, long non2xx, String output) {
    static AbResult parse(String out) {
      return new AbResult(
          number(out, "Complete requests:\\s+(\\d+)"),
          number(out, "Failed requests:\\s+(\\d+)"),
          out.contains("Non-2xx responses:") ? number(out, "Non-2xx responses:\\s+(\\d+)") : 0,
          out);
    }

    private static long number(String out, String regex) {
      Matcher m = Pattern.compile(regex).matcher(out);
      assertThat(m.find()).as("ab output has %s:%n%s", regex, out).isTrue();
      return Long.parseLong(m.group(1));
    }
  }

  static AbResult ab(Path dir, boolean keepAlive, int n, int port, Path body) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(tool("/usr/bin/ab", "apache2-utils").toString()));
    if (keepAlive) {
      cmd.add("-k");
    }
    cmd.addAll(
        List.of(
            "-n",
            Integer.toString(n),
            "-c",
            "32",
            "-s",
            "20",
            "-p",
            body.toString(),
            "-T",
            "application/json",
            "http://127.0.0.1:" + port + "/v1/payloads"));
    Path log = dir.resolve("ab-" + keepAlive + ".log");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("ab did not finish in 120 s:\n" + Files.readString(log));
    }
    String out = Files.readString(log);
    assertThat(p.exitValue()).as("ab exit status; output:%n%s", out).isZero();
    return AbResult.parse(out);
  }

  @Test
  void apacheBenchCompletesWithNoFailedRequestAndEveryAcceptedPayloadIsStored(@TempDir Path dir)
      throws Exception {
    try (IngestService s =
        IngestService.start(
            TestSupport.config(dir.resolve("data"), Map.of("MAX_QUEUE", "1000000")))) {
      List<String> ids = List.of("ab-0", "ab-1", "ab-2");
      Path body = dir.resolve("body.json");
      Files.writeString(
          body,
          "{\"payloads\":["
              + String.join(",", ids.stream().map(LoadClient::payload).toList())
              + "]}");
      long accepted = 0;
      for (boolean keepAlive : new boolean[] {false, true}) {
        AbResult r = ab(dir, keepAlive, 3000, s.port(), body);
        assertThat(r.complete()).as("keep-alive %s: %s", keepAlive, r.output()).isEqualTo(3000);
        assertThat(r.failed()).as("keep-alive %s: %s", keepAlive, r.output()).isZero();
        assertThat(r.non2xx()).as("keep-alive %s: %s", keepAlive, r.output()).isZero();
        // an empty reply (what Helidon alone gives HTTP/1.0) is no failure to ab: the length of
        // {"accepted":3} says the answers were 202s
        assertThat(r.output())
            .as("ab's document length")
            .containsPattern("Document Length: +14 bytes");
        accepted += r.complete() - r.non2xx();
      }
      long expected = accepted;
      Awaitility.await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> s.queue().budget().payloads() == 0);
      try (S3Client s3 = TestSupport.client(s.embeddedStore())) {
        StoredIds stored = StoredIds.read(s3, "millrace");
        assertThat(stored.foreignCount()).as("%s", stored.foreign()).isZero();
        for (String id : ids) {
          assertThat(stored.counts().get(id))
              .as("times %s was stored", id)
              .isEqualTo((int) expected);
        }
        assertThat(stored.lines()).isEqualTo(expected * PER_BODY);
      }
      assertThat(TestSupport.metric(s.port(), "millrace_payloads_accepted_total"))
          .isEqualTo((double) expected * PER_BODY);
    }
  }

  @Test
  void nginxWithDefaultProxySettingsForwardsToTheService(@TempDir Path dir) throws Exception {
    Path nginx = tool("/usr/sbin/nginx", "nginx");
    try (IngestService s = IngestService.start(TestSupport.config(dir.resolve("data"), Map.of()))) {
      int port = freePort();
      Path prefix = Files.createDirectories(dir.resolve("nginx"));
      Files.createDirectories(prefix.resolve("logs"));
      Path conf = prefix.resolve("nginx.conf");
      String temp = prefix.resolve("tmp").toString();
      Files.createDirectories(Path.of(temp));
      Files.writeString(
          conf,
          String.join(
              "\n",
              "daemon off;",
              "master_process off;",
              "worker_processes 1;",
              "pid " + prefix.resolve("nginx.pid") + ";",
              "error_log " + prefix.resolve("logs/error.log") + " warn;",
              "events { worker_connections 64; }",
              "http {",
              "  access_log off;",
              "  client_body_temp_path " + temp + "/body;",
              "  proxy_temp_path " + temp + "/proxy;",
              "  fastcgi_temp_path " + temp + "/fastcgi;",
              "  uwsgi_temp_path " + temp + "/uwsgi;",
              "  scgi_temp_path " + temp + "/scgi;",
              "  server {",
              "    listen 127.0.0.1:" + port + ";",
              // the default: HTTP/1.0 to the upstream, Connection: close
              "    location / { proxy_pass http://127.0.0.1:" + s.port() + "; }",
              "  }",
              "}",
              ""));
      Process p =
          new ProcessBuilder(nginx.toString(), "-p", prefix.toString(), "-c", conf.toString())
              .redirectErrorStream(true)
              .redirectOutput(prefix.resolve("logs/stdout.log").toFile())
              .start();
      try {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI base = URI.create("http://127.0.0.1:" + port);
        Awaitility.await()
            .atMost(Duration.ofSeconds(20))
            .pollInterval(Duration.ofMillis(50))
            .ignoreExceptions()
            .until(
                () ->
                    http.send(
                                HttpRequest.newBuilder(base.resolve("/healthz")).build(),
                                HttpResponse.BodyHandlers.ofString())
                            .statusCode()
                        == 200);
        HttpResponse<String> health =
            http.send(
                HttpRequest.newBuilder(base.resolve("/healthz"))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(health.body()).isEqualTo("{\"status\":\"alive\"}");

        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
          String id = "nginx-" + i;
          ids.add(id);
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(base.resolve("/v1/payloads"))
                      .timeout(Duration.ofSeconds(10))
                      .header("Content-Type", "application/json")
                      .POST(
                          HttpRequest.BodyPublishers.ofString(
                              "{\"payloads\":[" + LoadClient.payload(id) + "]}",
                              StandardCharsets.UTF_8))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          assertThat(r.statusCode()).as("%s %s", r, r.body()).isEqualTo(202);
          assertThat(r.body()).isEqualTo("{\"accepted\":1}");
        }
        Awaitility.await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(50))
            .until(() -> s.queue().budget().payloads() == 0);
        try (S3Client s3 = TestSupport.client(s.embeddedStore())) {
          StoredIds stored = StoredIds.read(s3, "millrace");
          assertThat(stored.counts().keySet()).containsExactlyInAnyOrderElementsOf(ids);
          assertThat(stored.counts().values()).containsOnly(1);
          assertThat(stored.foreignCount()).isZero();
        }
        assertThat(Files.readString(prefix.resolve("logs/error.log")))
            .as("nginx error log")
            .doesNotContain("upstream prematurely closed")
            .doesNotContain("[error]");
      } finally {
        p.destroy();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
