package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.millrace.ingest.testing.LoadClient;
import io.millrace.ingest.testing.RawHttp;
import io.millrace.ingest.testing.ServiceProcess;
import io.millrace.ingest.testing.StandaloneStore;
import io.millrace.ingest.testing.StoredIds;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk at service level (disk queue): {@code MILLRACE_DATA_DIR} on a 16 MiB tmpfs, the store
 * elsewhere ({@link StandaloneStore}, in the test JVM). Once a filler file has taken the space,
 * admission answers 503 with a problem body that names the cause, {@code /readyz} answers 503,
 * {@code /healthz} and {@code /metrics} are still served, and nothing answered 202 before, during
 * or after is lost; once the filler is deleted, admission works again and {@code /readyz} is back
 * to 200 without a restart. Read back through the S3 API: every id answered 202 stored exactly
 * once, none of a request answered 503 stored (admission is all or nothing).
 *
 * <p>Mounting needs root (as the log-level {@code DiskFullTest}); where the machine does not allow
 * it the test is skipped, and the log-level test's substitute (a channel that fails as a full disk
 * does) covers the rollback.
 */
@Timeout(180)
class DiskFullServiceTest {
  @TempDir Path work;
  private Path mount;
  private ServiceProcess service;

  @AfterEach
  void unmount() throws Exception {
    if (service != null) {
      service.close();
    }
    if (mount != null) {
      run("umount", mount.toString());
    }
  }

  @Test
  void aFullDiskAnswers503AndRecoversWhenSpaceReturnsLosingNothing() throws Exception {
    mount = work.resolve("tmpfs");
    Files.createDirectories(mount);
    boolean mounted = run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount.toString());
    if (!mounted) {
      mount = null;
    }
    assumeThat(mounted).as("mounting a tmpfs needs root").isTrue();
    try (StandaloneStore store = StandaloneStore.start(work.resolve("store"))) {
      Map<String, String> env = store.serviceEnv(mount.resolve("data"), "disk");
      service = ServiceProcess.start("full", work, env);
      ServiceProcess p = service;
      Set<String> accepted = new HashSet<>();
      Set<String> refused = new HashSet<>();
      int[] next = {0};
      for (int k = 0; k < 20; k++) {
        assertThat(post(p, next, accepted, refused)).isEqualTo(202);
      }

      Path filler = mount.resolve("filler");
      try (OutputStream out = Files.newOutputStream(filler)) {
        byte[] mib = new byte[1 << 20];
        for (int i = 0; i < 64; i++) {
          out.write(mib);
        }
      } catch (IOException full) {
        // what we wanted: no space left
      }
      RawHttp.Response problem = null;
      for (int k = 0; k < 10_000 && problem == null; k++) {
        RawHttp.Response r = postRaw(p, next, accepted, refused);
        if (r.status() == 503) {
          problem = r;
        } else {
          assertThat(r.status()).as("%s", r).isEqualTo(202);
        }
      }
      assertThat(problem).as("a 503 once the disk is full").isNotNull();
      assertThat(problem.header("Content-Type")).startsWith("application/problem+json");
      assertThat(problem.text())
          .as("the problem names the cause")
          .containsIgnoringCase("disk full");
      assertThat(p.status("/readyz")).as("/readyz while the disk is full").isEqualTo(503);
      String why = RawHttp.get(p.port(), "/readyz").text();
      assertThat(p.status("/healthz")).as("/healthz while the disk is full").isEqualTo(200);
      assertThat(p.status("/metrics")).as("/metrics while the disk is full").isEqualTo(200);
      for (int k = 0; k < 5; k++) {
        assertThat(post(p, next, accepted, refused)).as("still full").isEqualTo(503);
      }

      Files.delete(filler); // space returns
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      int status;
      while ((status = post(p, next, accepted, refused)) != 202) {
        assertThat(status).isEqualTo(503);
        assertThat(System.nanoTime()).as("admitting again within 30 s").isLessThan(deadline);
        Thread.sleep(100);
      }
      ServiceCrashTest.awaitStatus(p, "/readyz", 200, Duration.ofSeconds(30));
      for (int k = 0; k < 20; k++) {
        assertThat(post(p, next, accepted, refused)).isEqualTo(202);
      }
      ServiceCrashTest.awaitDrained(p, Duration.ofSeconds(60));
      p.sigterm();
      p.waitFor(Duration.ofSeconds(60));

      StoredIds stored = store.readBack();
      System.out.printf(
          "DiskFullServiceTest: %d requests, %d payloads accepted, %d refused (503); /readyz said"
              + " %s; the 503 said %s; %s%n",
          next[0], accepted.size(), refused.size(), why, problem.text(), stored.report(accepted));
      assertThat(stored.foreign()).isEmpty();
      assertThat(stored.missing(accepted)).as("accepted, not stored").isEmpty();
      assertThat(stored.duplicates()).as("stored twice").isEmpty();
      assertThat(stored.notAccepted(accepted)).as("stored, never accepted").isEmpty();
    }
  }

  private static int post(ServiceProcess p, int[] next, Set<String> accepted, Set<String> refused)
      throws IOException {
    return postRaw(p, next, accepted, refused).status();
  }

  /** Posts 10 new payloads; files their ids under accepted (202) or refused (anything else). */
  private static RawHttp.Response postRaw(
      ServiceProcess p, int[] next, Set<String> accepted, Set<String> refused) throws IOException {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ids.add("df" + next[0] + "-" + i);
    }
    next[0]++;
    RawHttp.Response r =
        RawHttp.post(
            p.port(),
            "application/json",
            utf8(
                "{\"payloads\":["
                    + String.join(",", ids.stream().map(LoadClient::payload).toList())
                    + "]}"));
    (r.status() == 202 ? accepted : refused).addAll(ids);
    return r;
  }

  private static boolean run(String... command) throws Exception {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    }
  }
}
