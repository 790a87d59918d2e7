package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.store.EmbeddedS3;
import io.millrace.ingest.testing.Browser;
import io.millrace.ingest.testing.FaultProxy;
import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.StoredIds;
import io.millrace.ingest.testing.TestSupport;
import io.millrace.pipeline.NoLeakedRunThreads;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The status page at {@code GET /} in a real browser (Debian's chromium, driven by playwright-core;
 * see {@link Browser}), on a service whose store sits behind a {@link FaultProxy}, while a load
 * posts payloads the whole time: the page loads with no console error and no request to any other
 * origin, its numbers and sparklines move under load, it shows "not ready" with the reason while
 * the store refuses connections and "ready" again once it is back, and it fits a phone's width.
 * Screenshots go to {@code target/status-page*.png}. Every payload the load got a 202 for is read
 * back from the store: none lost, none twice.
 */
@ExtendWith(NoLeakedRunThreads.class)
@Timeout(300)
class StatusPageBrowserTest {
  static final Duration WAIT = Duration.ofSeconds(30);
  static final Path SHOTS = Path.of("target");

  /** A page-side number from an element's text ("1,234", "12.5", "–" is NaN). */
  static String num(String id) {
    return "(t => { const v = t.replace(/[^0-9.]/g, ''); return v === '' ? NaN : Number(v); })"
        + "(document.getElementById('"
        + id
        + "').textContent)";
  }

  @TempDir Path dir;

  @Test
  void thePageShowsTheServiceLiveAndSaysWhyItIsNotReadyWhileTheStoreIsDown() throws Exception {
    EmbeddedS3 s3 = EmbeddedS3.start(dir.resolve("store"), 0);
    try (S3Client c = TestSupport.client(s3)) {
      c.createBucket(b -> b.bucket("millrace"));
    }
    Map<String, String> cfg = new HashMap<>();
    try (FaultProxy proxy = new FaultProxy(s3.endpoint().getPort())) {
      cfg.put("MILLRACE_S3_ENDPOINT", proxy.endpoint().toString());
      cfg.put("MILLRACE_S3_TIMEOUT_MS", "800");
      cfg.put("MILLRACE_QUEUE", "memory");
      cfg.put("MAX_QUEUE", "3000");
      cfg.put("MILLRACE_BATCH_MAX_PAYLOADS", "200");
      cfg.put("MILLRACE_BATCH_MAX_AGE_MS", "200");
      cfg.put("MAX_WORKERS", "4");
      String prefix = "sp" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36);
      try (IngestService service =
              IngestService.start(
                  TestSupport.config(dir.resolve("svc"), cfg),
                  StaticCredentialsProvider.create(
                      AwsBasicCredentials.create(EmbeddedS3.ACCESS_KEY, s3.secretKey())));
          Browser browser = Browser.start(SHOTS)) {
        String url = "http://127.0.0.1:" + service.port() + "/";
        LoadClient load =
            new LoadClient(
                    List.of(service.port()),
                    2,
                    10,
                    50_000_000,
                    prefix,
                    1500,
                    Duration.ofSeconds(120))
                .start();
        Throwable failed = null;
        try {
          laptop(browser, url, proxy);
          phone(browser, url);
        } catch (Exception | Error e) {
          failed = e;
          throw e;
        } finally {
          proxy.fault(FaultProxy.Fault.NONE); // so the requests in hand can end
          load.stop();
          try {
            load.await(Duration.ofSeconds(150));
          } catch (Exception | Error e) {
            if (failed == null) {
              throw e;
            }
            failed.addSuppressed(e); // the page's failure stays the one reported
          }
        }
        load.checkNoFailure();
        Set<String> accepted = load.accepted();
        assertThat(accepted).hasSizeGreaterThan(1000);
        Awaitility.await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> service.queue().budget().payloads() == 0);
        try (S3Client c = TestSupport.client(s3)) {
          StoredIds stored = StoredIds.read(c, "millrace");
          assertThat(stored.missing(accepted)).as(stored.report(accepted)).isEmpty();
          assertThat(stored.duplicates()).as(stored.report(accepted)).isEmpty();
        }
      }
    } finally {
      s3.close();
    }
  }

  /** Under load, then with the store down, then back; at laptop size. */
  private void laptop(Browser browser, String url, FaultProxy proxy) throws Exception {
    assertThat(browser.open(url, 1366, 860, 1, false, "light")).isEqualTo(200);
    browser.waitFor(
        "document.getElementById('ready-badge').dataset.ready === 'true'"
            + " && document.querySelector('#stages tbody tr[data-stage=upload]') !== null",
        WAIT);

    // the numbers move while the load runs
    browser.waitFor(num("accepted-total") + " > 500 && " + num("stored-total") + " > 0", WAIT);
    double accepted = number(browser.eval(num("accepted-total")));
    double stored = number(browser.eval(num("stored-total")));
    String sparkline = (String) browser.eval(pathOf("spark-accepted"));
    browser.waitFor(
        num("accepted-total")
            + " > "
            + accepted
            + " && "
            + num("stored-total")
            + " > "
            + stored
            + " && "
            + pathOf("spark-accepted")
            + " !== "
            + quote(sparkline),
        WAIT);
    browser.waitFor(num("accepted-rate") + " > 0 && " + num("r2xx") + " > 0", WAIT);
    browser.waitFor(
        "document.getElementById('p99').textContent.endsWith('s')"
            + " && document.getElementById('oldest').textContent.endsWith('s')",
        WAIT);
    assertThat(browser.text("queue-payloads")).endsWith("/ 3,000");
    assertThat(number(browser.eval(stageCell("upload", 2)))).isPositive(); // out
    assertThat(number(browser.eval(stageCell("queue", 1)))).isGreaterThan(accepted - 1); // in
    assertThat(browser.text("ready-badge")).isEqualToIgnoringCase("ready");
    browser.eval("new Promise(r => setTimeout(r, 3000))"); // a few more seconds of sparkline
    browser.screenshot(SHOTS.resolve("status-page.png"));

    // the store goes away: not ready, and why
    proxy.fault(FaultProxy.Fault.REFUSE);
    browser.waitFor(
        "document.getElementById('ready-badge').dataset.ready === 'false'"
            + " && document.getElementById('banner').textContent.includes('store unreachable')"
            + " && document.querySelector('#checks li[data-check=store]').dataset.ok === 'false'",
        WAIT);
    assertThat(browser.text("ready-badge")).isEqualToIgnoringCase("not ready");
    assertThat(browser.eval("document.querySelector('#checks li[data-check=store]').textContent"))
        .asString()
        .contains("store unreachable");
    browser.waitFor(
        "[...document.querySelectorAll('#errors li')].some(li =>"
            + " li.querySelector('.kind').textContent === 'store'"
            + " && li.querySelector('.msg').textContent.startsWith('upload failed'))",
        WAIT);
    // uploads keep failing, the queue fills, admission answers 429
    browser.waitFor(num("r429") + " > 0", WAIT);
    browser.screenshot(SHOTS.resolve("status-page-store-down.png"));

    // and back
    proxy.fault(FaultProxy.Fault.NONE);
    browser.waitFor(
        "document.getElementById('ready-badge').dataset.ready === 'true'"
            + " && document.getElementById('banner').hidden",
        Duration.ofSeconds(60));
    assertThat(browser.problems()).as("console errors, failed or foreign requests").isEmpty();
  }

  /** At a phone's size, dark: nothing wider than the screen, numbers shown. */
  private void phone(Browser browser, String url) throws Exception {
    assertThat(browser.open(url, 390, 844, 2, true, "dark")).isEqualTo(200);
    browser.waitFor(num("accepted-total") + " > 0 && " + num("accepted-rate") + " >= 0", WAIT);
    browser.eval("new Promise(r => setTimeout(r, 1500))");
    Object widths = browser.eval("[document.documentElement.scrollWidth, window.innerWidth]");
    assertThat(widths).asList().hasSize(2);
    List<?> w = (List<?>) widths;
    assertThat(number(w.get(0))).as("page width on a phone").isLessThanOrEqualTo(number(w.get(1)));
    browser.screenshot(SHOTS.resolve("status-page-phone.png"));
    assertThat(Files.size(SHOTS.resolve("status-page-phone.png"))).isGreaterThan(10_000);
    assertThat(browser.problems()).as("console errors, failed or foreign requests").isEmpty();
  }

  private static String pathOf(String svg) {
    return "(document.querySelector('#"
        + svg
        + " path.line') || {getAttribute: () => ''})"
        + ".getAttribute('d')";
  }

  private static String stageCell(String stage, int column) {
    return "(t => Number(t.replace(/[^0-9.]/g, '')))(document.querySelector("
        + "'#stages tbody tr[data-stage="
        + stage
        + "]').children["
        + column
        + "].textContent)";
  }

  private static String quote(String s) {
    return "'" + (s == null ? "" : s.replace("\\", "\\\\").replace("'", "\\'")) + "'";
  }

  private static double number(Object o) {
    return ((Number) o).doubleValue();
  }
}
