package io.millrace.ingest.queue.disk;

import static io.millrace.ingest.queue.disk.LogFixtures.WAIT;
import static io.millrace.ingest.queue.disk.LogFixtures.payloads;
import static io.millrace.ingest.queue.disk.LogFixtures.readAll;
import static io.millrace.ingest.queue.disk.LogFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk while appending: the append fails with {@link LogIoException} naming the cause, the
 * partial record is rolled back, the log stays consistent, and appends succeed again once space
 * returns. On a real 2 MiB tmpfs where the machine lets the test mount one (root); always on the
 * documented substitute, a channel whose writes and forces fail as a full disk or a broken one do.
 */
@Timeout(120)
class DiskFullTest {
  @TempDir Path work;
  private Path mount;

  @AfterEach
  void unmount() throws Exception {
    if (mount != null) {
      run("umount", mount.toString());
    }
  }

  @Test
  void aFullTmpfsFailsAppendsCleanlyAndTheyWorkAgainOnceSpaceReturns() throws Exception {
    mount = work.resolve("tmpfs");
    Files.createDirectories(mount);
    boolean mounted = run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount.toString());
    if (!mounted) {
      mount = null;
    }
    assumeThat(mounted).as("mounting a tmpfs needs root; the substitute below still runs").isTrue();
    Path dir = mount.resolve("log");
    Path filler = mount.resolve("filler");
    List<Positions> ok = new ArrayList<>();
    try (DiskLog log = DiskLog.open(dir, LogFixtures.small(256 << 10))) {
      try (OutputStream out = Files.newOutputStream(filler)) {
        out.write(new byte[(2 << 20) - (300 << 10)]); // leaves ~300 KiB
      } catch (IOException full) {
        // the file system may hold a little less; what matters is that it is nearly full
      }
      LogIoException failure = null;
      for (int r = 0; r < 10_000 && failure == null; r++) {
        try {
          ok.add(log.append(payloads(r, 10), WAIT));
        } catch (LogIoException e) {
          failure = e;
        }
      }
      assertThat(failure).as("the disk filled up").isNotNull();
      assertThat(failure.reason()).isEqualTo(LogIoException.Reason.DISK_FULL);
      assertThat(failure.getMessage()).contains("disk full").contains("No space left on device");
      assertThat(log.stats().lastError()).contains("disk full");
      assertThat(log.stats().writeErrors()).isPositive();
      long next = log.stats().nextPosition();
      assertThatThrownBy(() -> log.append(payloads(-1, 10), WAIT))
          .isInstanceOf(LogIoException.class);
      assertThat(log.stats().nextPosition()).isEqualTo(next);
      checkExactly(readAll(log, 0), ok);

      Files.delete(filler); // space returns
      ok.add(log.append(payloads(-2, 10), WAIT));
      assertThat(ok.get(ok.size() - 1).first()).isEqualTo(next);
      assertThat(log.stats().lastError()).isNull();
    }
    try (DiskLog log = DiskLog.open(dir, LogFixtures.small(256 << 10))) {
      assertThat(log.recovery().tornTail()).isEmpty();
      checkExactly(readAll(log, 0), ok);
    }
  }

  @Test
  void theSubstituteDiskFullRollsBackAndRecovers() throws Exception {
    AtomicBoolean full = new AtomicBoolean();
    AtomicBoolean brokenForce = new AtomicBoolean();
    ChannelOpener opener = HookedChannel.fullDisk(full::get, 0, brokenForce::get);
    Path dir = work.resolve("log");
    List<Positions> ok = new ArrayList<>();
    try (DiskLog log = DiskLog.open(dir, LogFixtures.small(8 << 10), opener)) {
      for (int r = 0; r < 10; r++) {
        ok.add(log.append(payloads(r, 3), WAIT));
      }
      full.set(true);
      LogIoException e = (LogIoException) catchAppend(() -> log.append(payloads(100, 3), WAIT));
      assertThat(e.reason()).isEqualTo(LogIoException.Reason.DISK_FULL);
      full.set(false);
      brokenForce.set(true); // written, then the fsync fails: rolled back all the same
      e = (LogIoException) catchAppend(() -> log.append(payloads(101, 3), WAIT));
      assertThat(e.reason()).isEqualTo(LogIoException.Reason.IO_ERROR);
      assertThat(e.getMessage()).contains("I/O error").contains("Input/output error");
      brokenForce.set(false);
      for (int r = 10; r < 40; r++) { // across roll-overs
        ok.add(log.append(payloads(r, 3), WAIT));
      }
      checkExactly(readAll(log, 0), ok);
    }
    try (DiskLog log = DiskLog.open(dir, LogFixtures.small(8 << 10))) {
      assertThat(log.recovery().tornTail()).isEmpty();
      checkExactly(readAll(log, 0), ok);
    }
  }

  private interface Append {
    Positions run() throws Exception;
  }

  private static Exception catchAppend(Append a) {
    try {
      a.run();
    } catch (Exception e) {
      assertThat(e).isInstanceOf(LogIoException.class);
      return e;
    }
    throw new AssertionError("the append succeeded");
  }

  /** The log holds exactly the appends that returned, in order, dense. */
  private static void checkExactly(List<LogEntry> all, List<Positions> ok) {
    int i = 0;
    for (Positions p : ok) {
      for (int k = 0; k < p.count(); k++, i++) {
        assertThat(all.get(i).position()).isEqualTo(p.first() + k);
        assertThat(text(all.get(i))).contains("\"i\":" + k + ",");
      }
    }
    assertThat(all).hasSize(i);
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
