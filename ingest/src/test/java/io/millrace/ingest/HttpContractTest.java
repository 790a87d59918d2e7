package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.gzip;
import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.http.PayloadParser;
import io.millrace.ingest.testing.BlackHole;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** Every status of the HTTP contract, with its problem body, over real sockets. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class HttpContractTest {
  static final String JSON = "application/json";
  static final long MAX_BODY = 64 * 1024;

  Path dir;
  IngestService service;
  int port;

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    dir = tmp;
    service =
        IngestService.start(
            TestSupport.config(
                dir.resolve("main"),
                Map.of("MAX_BODY_BYTES", Long.toString(MAX_BODY), "MAX_QUEUE", "1000")));
    port = service.port();
  }

  @AfterAll
  void stop() {
    if (service != null) {
      service.shutdown();
    }
  }

  static void assertProblem(RawHttp.Response r, int status) {
    assertThat(r.status()).as("status of %s", r).isEqualTo(status);
    assertThat(r.header("content-type"))
        .as("content type of %s", r)
        .isEqualTo("application/problem+json");
    assertThat(r.text())
        .contains("\"status\":" + status)
        .contains("\"title\":")
        .contains("\"type\":");
  }

  // ------------------------------------------------------------------ 202

  @Test
  void jsonEnvelopeIsAccepted() throws Exception {
    var r = RawHttp.post(port, JSON, utf8("{\"payloads\":[{\"a\":1},[1,2],\"s\",3.5,true,null]}"));
    assertThat(r.status()).isEqualTo(202);
    assertThat(r.text()).isEqualTo("{\"accepted\":6}");
  }

  @Test
  void charsetParameterAndOtherTopLevelFieldsAreFine() throws Exception {
    var r =
        RawHttp.post(
            port,
            "application/json; charset=utf-8",
            utf8("{\"source\":{\"x\":[1]},\"payloads\":[{\"a\":1}],\"n\":2}"));
    assertThat(r.status()).isEqualTo(202);
    assertThat(r.text()).isEqualTo("{\"accepted\":1}");
  }

  @Test
  void ndjsonIsAccepted() throws Exception {
    var r = RawHttp.post(port, "application/x-ndjson", utf8("{\"a\":1}\n\n[1, 2]\r\n\"x\"\n"));
    assertThat(r.status()).isEqualTo(202);
    assertThat(r.text()).isEqualTo("{\"accepted\":3}");
  }

  @Test
  void gzipBodyIsAccepted() throws Exception {
    var r =
        RawHttp.post(
            port,
            JSON,
            gzip(utf8("{\"payloads\":[{\"z\":\"zipped\"}]}")),
            Map.of("Content-Encoding", "gzip"));
    assertThat(r.status()).isEqualTo(202);
    assertThat(r.text()).isEqualTo("{\"accepted\":1}");
  }

  @Test
  void chunkedBodyIsAccepted() throws Exception {
    byte[] body = utf8("{\"payloads\":[1,2,3]}");
    ByteArrayOutputStream chunked = new ByteArrayOutputStream();
    chunked.writeBytes(utf8("5\r\n"));
    chunked.write(body, 0, 5);
    chunked.writeBytes(utf8("\r\n" + Integer.toHexString(body.length - 5) + "\r\n"));
    chunked.write(body, 5, body.length - 5);
    chunked.writeBytes(utf8("\r\n0\r\n\r\n"));
    var r = RawHttp.post(port, JSON, chunked.toByteArray(), Map.of("Transfer-Encoding", "chunked"));
    assertThat(r.status()).isEqualTo(202);
    assertThat(r.text()).isEqualTo("{\"accepted\":3}");
  }

  // ------------------------------------------------------------------ 400

  @Test
  void malformedJsonIs400() throws Exception {
    assertProblem(RawHttp.post(port, JSON, utf8("{\"payloads\":[{\"a\":1},]}")), 400);
    assertProblem(RawHttp.post(port, JSON, utf8("{\"payloads\":[1]} trailing")), 400);
    assertProblem(RawHttp.post(port, "application/x-ndjson", utf8("{\"a\":1}\n{\"b\":\n")), 400);
    assertProblem(RawHttp.post(port, "application/x-ndjson", utf8("1 2\n")), 400);
  }

  @Test
  void noPayloadsArrayIs400() throws Exception {
    assertProblem(RawHttp.post(port, JSON, utf8("{\"items\":[1]}")), 400);
    assertProblem(RawHttp.post(port, JSON, utf8("{\"payloads\":{\"a\":1}}")), 400);
    assertProblem(RawHttp.post(port, JSON, utf8("[1,2]")), 400);
  }

  @Test
  void emptyBodyIs400() throws Exception {
    assertProblem(RawHttp.post(port, JSON, new byte[0]), 400);
  }

  @Test
  void invalidUtf8Is400() throws Exception {
    byte[] bad = utf8("{\"payloads\":[\"ab\"]}");
    bad[15] = (byte) 0xC3; // a lead byte followed by an ASCII byte
    assertProblem(RawHttp.post(port, JSON, bad), 400);
    byte[] overlong = utf8("{\"payloads\":[\"a__\"]}");
    overlong[15] = (byte) 0xC0;
    overlong[16] = (byte) 0xAF; // overlong '/'
    assertProblem(RawHttp.post(port, JSON, overlong), 400);
  }

  @Test
  void nestingDeeperThanTheLimitIs400() throws Exception {
    int ok = PayloadParser.MAX_DEPTH - 2;
    String fine = "{\"payloads\":[" + "[".repeat(ok) + "]".repeat(ok) + "]}";
    assertThat(RawHttp.post(port, JSON, utf8(fine)).status()).isEqualTo(202);
    String deep = "{\"payloads\":[" + "[".repeat(5000) + "]".repeat(5000) + "]}";
    var r = RawHttp.post(port, JSON, utf8(deep));
    assertProblem(r, 400);
    assertThat(r.text()).contains("nesting");
  }

  @Test
  void truncatedBodyIsRejectedAndNothingAdmitted() throws Exception {
    long before = service.queue().budget().payloads() + storedPayloads();
    byte[] body = utf8("{\"payloads\":[{\"a\":1},{\"b\":2}]}");
    byte[] raw =
        RawHttp.request(
            "POST",
            "/v1/payloads",
            Map.of("Content-Type", JSON, "Content-Length", Integer.toString(body.length + 20)),
            body);
    var r = RawHttp.exchange(port, raw, true);
    // the server either answers 400 or closes the connection: never 202
    assertProblem(r, 400);
    assertThat(service.queue().budget().payloads() + storedPayloads()).isEqualTo(before);
  }

  @Test
  void contentLengthShorterThanTheBodyIs400() throws Exception {
    byte[] body = utf8("{\"payloads\":[{\"a\":1},{\"b\":2}]}");
    byte[] raw =
        RawHttp.request(
            "POST",
            "/v1/payloads",
            Map.of("Content-Type", JSON, "Content-Length", Integer.toString(body.length - 6)),
            body);
    assertProblem(RawHttp.exchange(port, raw, false), 400);
  }

  @Test
  void corruptGzipIs400() throws Exception {
    byte[] z = gzip(utf8("{\"payloads\":[1,2,3]}"));
    byte[] truncated = java.util.Arrays.copyOf(z, z.length - 6);
    assertProblem(RawHttp.post(port, JSON, truncated, Map.of("Content-Encoding", "gzip")), 400);
    assertProblem(
        RawHttp.post(port, JSON, utf8("not gzip at all"), Map.of("Content-Encoding", "gzip")), 400);
  }

  @Test
  void malformedRequestLineIs400() throws Exception {
    var badLength =
        RawHttp.exchange(
            port,
            utf8(
                "POST /v1/payloads HTTP/1.1\r\n"
                    + "Host: x\r\n"
                    + "Content-Type: application/json\r\n"
                    + "Content-Length: abc\r\n\r\n"),
            false);
    var badHeader =
        RawHttp.exchange(
            port, utf8("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"), false);
    var bothLengths =
        RawHttp.exchange(
            port,
            utf8(
                "POST /v1/payloads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            false);
    assertThat(java.util.List.of(badLength.status(), badHeader.status(), bothLengths.status()))
        .containsOnly(400);
    assertProblem(badLength, 400);
    assertProblem(badHeader, 400);
    assertProblem(bothLengths, 400);
  }

  @Test
  void somethingThatIsNotHttpIsClosedWithoutAnAnswer() throws Exception {
    // no HTTP/1.x prologue: the server cannot tell which protocol it is and closes the connection
    assertThat(RawHttp.exchange(port, utf8("HELLO\r\n\r\n"), false).status()).isEqualTo(-1);
    assertThat(RawHttp.get(port, "/healthz").status()).isEqualTo(200);
  }

  @Test
  void hugeHeaderIsRejectedWithAProblem() throws Exception {
    byte[] raw =
        RawHttp.request(
            "POST",
            "/v1/payloads",
            Map.of("Content-Type", JSON, "X-Big", "a".repeat(64 * 1024)),
            utf8("{\"payloads\":[1]}"));
    var r = RawHttp.exchange(port, raw, false);
    assertThat(r.status()).isBetween(400, 431);
    assertThat(r.header("content-type")).isEqualTo("application/problem+json");
  }

  // ------------------------------------------------------------------ 405, 404, 415

  @Test
  void otherMethodsAre405WithAllow() throws Exception {
    var r = RawHttp.get(port, "/v1/payloads");
    assertProblem(r, 405);
    assertThat(r.header("allow")).isEqualTo("POST");
    var put =
        RawHttp.exchange(
            port,
            RawHttp.request(
                "PUT", "/v1/payloads", Map.of("Content-Type", JSON), utf8("{\"payloads\":[1]}")),
            false);
    assertProblem(put, 405);
    var postHealth =
        RawHttp.exchange(port, RawHttp.request("POST", "/healthz", Map.of(), new byte[0]), false);
    assertProblem(postHealth, 405);
    assertThat(postHealth.header("allow")).isEqualTo("GET, HEAD");
  }

  @Test
  void unknownPathIs404Problem() throws Exception {
    assertProblem(RawHttp.get(port, "/nope"), 404);
  }

  @Test
  void otherContentTypesAre415() throws Exception {
    assertProblem(RawHttp.post(port, "text/plain", utf8("{\"payloads\":[1]}")), 415);
    assertProblem(RawHttp.post(port, null, utf8("{\"payloads\":[1]}")), 415);
    assertProblem(
        RawHttp.post(port, JSON, utf8("{\"payloads\":[1]}"), Map.of("Content-Encoding", "br")),
        415);
  }

  // ------------------------------------------------------------------ 413

  @Test
  void bodyOverTheLimitIs413() throws Exception {
    byte[] big = utf8("{\"payloads\":[\"" + "x".repeat((int) MAX_BODY) + "\"]}");
    assertProblem(RawHttp.post(port, JSON, big), 413);
  }

  @Test
  void chunkedBodyOverTheLimitIs413() throws Exception {
    byte[] big = utf8("{\"payloads\":[\"" + "x".repeat((int) MAX_BODY) + "\"]}");
    ByteArrayOutputStream chunked = new ByteArrayOutputStream();
    chunked.writeBytes(utf8(Integer.toHexString(big.length) + "\r\n"));
    chunked.writeBytes(big);
    chunked.writeBytes(utf8("\r\n0\r\n\r\n"));
    var r = RawHttp.post(port, JSON, chunked.toByteArray(), Map.of("Transfer-Encoding", "chunked"));
    assertProblem(r, 413);
  }

  @Test
  void gzipBombIs413() throws Exception {
    // 10 MB of one repeated payload compresses to ~10 KB: under the limit compressed, far over it
    // expanded
    StringBuilder sb = new StringBuilder("{\"payloads\":[");
    String p = "\"" + "a".repeat(1000) + "\"";
    for (int i = 0; i < 10_000; i++) {
      sb.append(i == 0 ? "" : ",").append(p);
    }
    sb.append("]}");
    byte[] bomb = gzip(utf8(sb.toString()));
    assertThat((long) bomb.length).isLessThan(MAX_BODY);
    var r = RawHttp.post(port, JSON, bomb, Map.of("Content-Encoding", "gzip"));
    assertProblem(r, 413);
    assertThat(r.text()).contains("decompressed");
  }

  @Test
  void morePayloadsThanTheQueueCouldEverHoldIs413() throws Exception {
    StringBuilder sb = new StringBuilder("{\"payloads\":[");
    for (int i = 0; i < 1001; i++) {
      sb.append(i == 0 ? "" : ",").append(i);
    }
    sb.append("]}");
    var r = RawHttp.post(port, JSON, utf8(sb.toString()));
    assertProblem(r, 413);
    assertThat(r.text()).contains("1001 payloads");
  }

  // ------------------------------------------------------------------ probes

  @Test
  void probesAndMetricsAnswer() throws Exception {
    var h = RawHttp.get(port, "/healthz");
    assertThat(h.status()).isEqualTo(200);
    assertThat(h.text()).isEqualTo("{\"status\":\"alive\"}");
    var ready = RawHttp.get(port, "/readyz");
    assertThat(ready.status()).isEqualTo(200);
    var m = RawHttp.get(port, "/metrics");
    assertThat(m.status()).isEqualTo(200);
    assertThat(m.header("content-type")).startsWith("text/plain");
    assertThat(m.text())
        .contains("millrace_queue_bytes")
        .contains("millrace_payloads_accepted_total")
        .contains("millrace_http_responses_total");
    var o = RawHttp.get(port, "/openapi.yaml");
    assertThat(o.status()).isEqualTo(200);
    assertThat(o.text()).startsWith("openapi: 3.1.0").contains("/v1/payloads");
  }

  private long storedPayloads() {
    return (long) Double.parseDouble(metric("millrace_payloads_stored_total"));
  }

  String metric(String name) {
    try {
      for (String line : RawHttp.get(port, "/metrics").text().split("\n")) {
        if (line.startsWith(name + " ")) {
          return line.substring(name.length() + 1).trim();
        }
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("no metric " + name);
  }

  // ------------------------------------------------------------------ 401, 429, 503: own services

  @Test
  void apiKeysGuardV1Only() throws Exception {
    try (IngestService s =
        IngestService.start(
            TestSupport.config(
                dir.resolve("auth"),
                Map.of("MILLRACE_API_KEYS", "key-one-123456,key-two-123456")))) {
      int p = s.port();
      byte[] body = utf8("{\"payloads\":[1]}");
      var none = RawHttp.post(p, JSON, body);
      assertProblem(none, 401);
      assertThat(none.header("www-authenticate")).startsWith("Bearer");
      assertProblem(
          RawHttp.post(p, JSON, body, Map.of("Authorization", "Bearer key-one-12345")), 401);
      assertProblem(
          RawHttp.post(p, JSON, body, Map.of("Authorization", "Basic a2V5LW9uZS0xMjM0NTY=")), 401);
      assertThat(
              RawHttp.post(p, JSON, body, Map.of("Authorization", "Bearer key-two-123456"))
                  .status())
          .isEqualTo(202);
      assertThat(
              RawHttp.post(p, JSON, body, Map.of("Authorization", "bearer key-one-123456"))
                  .status())
          .isEqualTo(202);
      assertThat(RawHttp.get(p, "/healthz").status()).isEqualTo(200);
      assertThat(RawHttp.get(p, "/metrics").status()).isEqualTo(200);
      assertThat(RawHttp.get(p, "/readyz").status()).isEqualTo(200);
    }
  }

  @Test
  void fullQueueIs429WithRetryAfterAndAdmitsNothing() throws Exception {
    try (BlackHole store = new BlackHole();
        IngestService s =
            IngestService.start(
                TestSupport.config(
                    dir.resolve("full"),
                    Map.of(
                        "MAX_QUEUE", "5",
                        "MILLRACE_S3_ENDPOINT", store.endpoint().toString(),
                        "MILLRACE_S3_TIMEOUT_MS", "60000",
                        "MILLRACE_DRAIN_TIMEOUT_MS", "200")),
                StaticCredentialsProvider.create(AwsBasicCredentials.create("a", "b")))) {
      int p = s.port();
      assertThat(RawHttp.post(p, JSON, utf8("{\"payloads\":[1,2,3]}")).status()).isEqualTo(202);
      var full = RawHttp.post(p, JSON, utf8("{\"payloads\":[4,5,6]}"));
      assertProblem(full, 429);
      assertThat(full.header("retry-after")).isEqualTo("1");
      assertThat(s.queue().budget().payloads()).isEqualTo(3); // all or nothing
      assertThat(RawHttp.post(p, JSON, utf8("{\"payloads\":[4,5]}")).status()).isEqualTo(202);
      assertProblem(RawHttp.post(p, JSON, utf8("{\"payloads\":[6]}")), 429);
      assertProblem(RawHttp.get(p, "/readyz"), 503);
      assertThat(RawHttp.get(p, "/healthz").status()).isEqualTo(200);
    }
  }

  @Test
  void shuttingDownIs503AndReadinessFails() throws Exception {
    try (BlackHole store = new BlackHole()) {
      Path data = dir.resolve("down");
      IngestService s =
          IngestService.start(
              TestSupport.config(
                  data,
                  Map.of(
                      "MILLRACE_QUEUE", "memory",
                      "MILLRACE_S3_ENDPOINT", store.endpoint().toString(),
                      "MILLRACE_S3_TIMEOUT_MS", "60000",
                      "MILLRACE_DRAIN_TIMEOUT_MS", "3000")),
              StaticCredentialsProvider.create(AwsBasicCredentials.create("a", "b")));
      int p = s.port();
      assertThat(RawHttp.post(p, JSON, utf8("{\"payloads\":[{\"keep\":1}]}")).status())
          .isEqualTo(202);
      CompletableFuture<IngestService.ShutdownReport> down =
          CompletableFuture.supplyAsync(s::shutdown);
      long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
      while (RawHttp.get(p, "/readyz").status() != 503 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      var r = RawHttp.post(p, JSON, utf8("{\"payloads\":[2]}"));
      assertProblem(r, 503);
      assertThat(r.header("retry-after")).isNotNull();
      assertProblem(RawHttp.get(p, "/readyz"), 503);
      assertThat(RawHttp.get(p, "/healthz").status()).isEqualTo(200);
      var report = down.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(report.spilled()).isEqualTo(1);
      assertThat(report.drained()).isFalse();
      try (var files = Files.list(IngestService.spillDir(s.config()))) {
        String spilled = Files.readString(files.findFirst().orElseThrow());
        assertThat(spilled).contains("\"payload\":{\"keep\":1}");
      }
    }
  }

  static Map<String, String> map(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }
}
