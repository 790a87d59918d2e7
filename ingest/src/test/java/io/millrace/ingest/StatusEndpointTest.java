package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.TestSupport;
import io.millrace.pipeline.NoLeakedRunThreads;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /} and {@code GET /v1/status} over real sockets, on a service with API keys: the page
 * is open, the JSON needs a key like every {@code /v1/} path, only GET and HEAD are served, the
 * numbers match {@code /metrics}, {@code ?since} returns only newer samples, and no payload content
 * ever shows up, not even from a rejected body.
 */
@ExtendWith(NoLeakedRunThreads.class)
@Timeout(120)
class StatusEndpointTest {
  static final String KEY = "k-status-test";
  static final Map<String, String> AUTH = Map.of("Authorization", "Bearer " + KEY);

  @TempDir Path dir;

  static RawHttp.Response get(int port, String path, Map<String, String> headers) throws Exception {
    return RawHttp.exchange(port, RawHttp.request("GET", path, headers, null), false);
  }

  @Test
  void thePageIsOpenTheJsonNeedsAKeyAndNeitherShowsPayloadContent() throws Exception {
    try (IngestService s =
        IngestService.start(
            TestSupport.config(
                dir, Map.of("MILLRACE_QUEUE", "memory", "MILLRACE_API_KEYS", KEY)))) {
      int port = s.port();
      RawHttp.Response page = RawHttp.get(port, "/");
      assertThat(page.status()).isEqualTo(200);
      assertThat(page.header("Content-Type")).startsWith("text/html");
      assertThat(page.header("Content-Security-Policy"))
          .contains("default-src 'none'", "connect-src 'self'", "script-src 'self'");
      assertThat(page.text())
          .contains("/status.js", "/status.css")
          .doesNotContain("http://", "https://");
      assertThat(RawHttp.get(port, "/status.js").header("Content-Type"))
          .startsWith("text/javascript");
      assertThat(RawHttp.get(port, "/status.css").header("Content-Type")).startsWith("text/css");
      assertThat(
              RawHttp.exchange(port, RawHttp.request("POST", "/", Map.of(), utf8("x")), false)
                  .status())
          .isEqualTo(405);

      assertThat(RawHttp.get(port, "/v1/status").status()).isEqualTo(401);
      assertThat(get(port, "/v1/status", Map.of("Authorization", "Bearer wrong")).status())
          .isEqualTo(401);
      assertThat(
              RawHttp.exchange(port, RawHttp.request("DELETE", "/v1/status", AUTH, null), false)
                  .status())
          .isEqualTo(405);
      assertThat(get(port, "/v1/status?since=x", AUTH).status()).isEqualTo(400);

      String secret = "SECRET-PAYLOAD-CONTENT-7f3a";
      String ok = "{\"payloads\":[{\"s\":\"" + secret + "\"},{\"i\":1}]}";
      assertThat(RawHttp.post(port, "application/json", utf8(ok), AUTH).status()).isEqualTo(202);
      String bad = "{\"payloads\":[{\"s\":\"" + secret + "\"," + secret + "]}";
      assertThat(RawHttp.post(port, "application/json", utf8(bad), AUTH).status()).isEqualTo(400);
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> s.queue().budget().payloads() == 0);
      // the sampler takes a sample a second: wait for two after the store
      long seq0 = lastSeq(get(port, "/v1/status", AUTH).text());
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> lastSeq(get(port, "/v1/status", AUTH).text()) >= seq0 + 2);

      RawHttp.Response st = get(port, "/v1/status", AUTH);
      assertThat(st.status()).isEqualTo(200);
      assertThat(st.header("Content-Type")).startsWith("application/json");
      String json = st.text();
      assertThat(json).doesNotContain(secret);
      assertThat(json)
          .contains("\"ready\":true")
          .contains("\"accepted\":2,\"stored\":2")
          .contains("\"kind\":\"rejected\",\"message\":\"400 malformed\"")
          .contains("{\"name\":\"store\",\"ok\":true,\"reason\":null}");
      // the stages in pipeline order, the source first, the upload after the encoder
      assertThat(json.indexOf("{\"name\":\"queue\",\"in\":2"))
          .isPositive()
          .isLessThan(json.indexOf("{\"name\":\"encode\""));
      assertThat(json.indexOf("{\"name\":\"encode\""))
          .isLessThan(json.indexOf("{\"name\":\"upload\""));

      // ?since: only the newer samples
      long last = lastSeq(json);
      String later = get(port, "/v1/status?since=" + last, AUTH).text();
      Matcher seqs = Pattern.compile("\"seq\":\\[([0-9,]*)\\]").matcher(later);
      assertThat(seqs.find()).isTrue();
      for (String n : seqs.group(1).split(",")) {
        if (!n.isEmpty()) {
          assertThat(Long.parseLong(n)).isGreaterThan(last);
        }
      }
      assertThat(RawHttp.get(port, "/metrics").text())
          .contains("millrace_payloads_accepted_total 2.0")
          .contains("millrace_ready 1.0")
          .contains("millrace_ready_check{check=\"store\"} 1.0")
          .contains("millrace_pipeline_stage_out_total{stage=\"upload\"}")
          .doesNotContain(secret);
    }
  }

  static long lastSeq(String json) {
    Matcher m = Pattern.compile("\"last\":(\\d+),\"seq\"").matcher(json);
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }
}
