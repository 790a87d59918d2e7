package io.millrace.pipeline;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails any test that leaves a thread of a pipeline run alive.
 *
 * <p>It finds run threads by name in the JDK's own thread dump, which lists virtual threads too:
 * every thread a run starts is named {@code millrace-<run id>-<stage>}. So the library needs no
 * hook for it, and it sees every run, whether the test started it or the code under test did. When
 * a test method returns, each run thread that was not alive before the test must be gone within a
 * short grace (a thread that did its last action may still be exiting); otherwise the test fails
 * with the stack of each, and the extension waits a few seconds for them to end so the next test
 * starts clean.
 *
 * <p>Exact counts while a run goes (and the instant it ended) come from the run itself: {@link
 * LiveRunThreads}.
 *
 * <p>Use it with {@code @ExtendWith(NoLeakedRunThreads.class)} on any test class that runs
 * pipelines; it is shipped in the pipeline test-jar for the other modules' tests.
 */
public final class NoLeakedRunThreads implements BeforeEachCallback, AfterEachCallback {

  private static final long GRACE_MILLIS = 500;
  private static final long SETTLE_MILLIS = 5_000;
  private static final Pattern RUN_THREAD = Pattern.compile("millrace-\\d+-.*");
  private static final Pattern HEADER = Pattern.compile("^#\\d+ \"(.*)\"");
  private static final ExtensionContext.Namespace NS =
      ExtensionContext.Namespace.create(NoLeakedRunThreads.class);

  /** Created by JUnit for {@code @ExtendWith}. */
  public NoLeakedRunThreads() {}

  @Override
  public void beforeEach(ExtensionContext context) {
    Set<String> before = new HashSet<>();
    for (DumpedThread t : Dumps.runThreads()) {
      before.add(t.name());
    }
    context.getStore(NS).put("before", before);
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    @SuppressWarnings("unchecked")
    Set<String> before = context.getStore(NS).remove("before", Set.class);
    List<DumpedThread> alive = aliveAfter(before == null ? Set.of() : before, GRACE_MILLIS);
    if (alive.isEmpty()) {
      return;
    }
    StringBuilder msg = new StringBuilder();
    msg.append("test left pipeline run threads alive: ")
        .append(alive.size())
        .append(" not ended ")
        .append(GRACE_MILLIS)
        .append(" ms after the test returned");
    for (DumpedThread t : alive) {
      msg.append("\n  ").append(t.block().replace("\n", "\n  "));
    }
    aliveAfter(before == null ? Set.of() : before, SETTLE_MILLIS); // before the next test
    throw new AssertionError(msg.toString());
  }

  /** Run threads alive but for those named in {@code except}, once they had {@code millis}. */
  private static List<DumpedThread> aliveAfter(Set<String> except, long millis)
      throws InterruptedException {
    long deadline = System.nanoTime() + millis * 1_000_000;
    while (true) {
      List<DumpedThread> alive = new ArrayList<>();
      for (DumpedThread t : Dumps.runThreads()) {
        if (!except.contains(t.name())) {
          alive.add(t);
        }
      }
      if (alive.isEmpty() || System.nanoTime() > deadline) {
        return alive;
      }
      Thread.sleep(10);
    }
  }

  /**
   * {@return how many threads of pipeline runs, across all runs, are still alive once threads that
   * are exiting had up to 500 ms to end} For checks after runs ended; to count the threads of a run
   * while it goes, use {@link LiveRunThreads}.
   */
  public static int liveRunThreads() {
    try {
      return aliveAfter(Set.of(), GRACE_MILLIS).size();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Dumps.runThreads().size();
    }
  }

  /**
   * Stack traces of every run thread alive, for a timeout message.
   *
   * @return a printable dump, empty if none is alive
   */
  public static String dumpRunThreads() {
    StringBuilder sb = new StringBuilder();
    for (DumpedThread t : Dumps.runThreads()) {
      sb.append('\n').append(t.block());
    }
    return sb.toString();
  }

  /** A thread in a dump: its name, and its header and stack as the dump prints them. */
  record DumpedThread(String name, String block) {}

  /** Thread dumps through the JDK's diagnostic bean, which lists virtual threads too. */
  private static final class Dumps {
    private static final HotSpotDiagnosticMXBean BEAN =
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
    private static final AtomicLong FILES = new AtomicLong();
    private static final Path DIR = tempDir();
    private static final String CANARY = "millrace-leak-check-canary";

    static {
      checkThatVirtualThreadsAreListed();
    }

    private static Path tempDir() {
      try {
        Path dir = Files.createTempDirectory("millrace-thread-dumps");
        dir.toFile().deleteOnExit();
        return dir;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** A check that cannot see the threads must fail, not pass. */
    private static void checkThatVirtualThreadsAreListed() {
      CountDownLatch release = new CountDownLatch(1);
      Thread canary =
          Thread.ofVirtual()
              .name(CANARY)
              .start(
                  () -> {
                    try {
                      release.await();
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                  });
      try {
        if (!dump().contains('"' + CANARY + '"')) {
          throw new IllegalStateException(
              "the JDK's thread dump does not list virtual threads, so leaked pipeline threads"
                  + " would go unseen: run the tests with -Djdk.trackAllThreads=true");
        }
      } finally {
        release.countDown();
        canary.interrupt();
      }
    }

    /** {@return every thread named like a run thread, in a fresh dump} */
    static List<DumpedThread> runThreads() {
      List<DumpedThread> found = new ArrayList<>();
      String name = null;
      StringBuilder block = new StringBuilder();
      for (String line : (dump() + "\n\n").split("\n")) {
        if (line.isBlank()) {
          if (name != null) {
            found.add(new DumpedThread(name, block.toString()));
          }
          name = null;
          block.setLength(0);
          continue;
        }
        if (block.isEmpty()) {
          Matcher m = HEADER.matcher(line);
          if (m.find() && RUN_THREAD.matcher(m.group(1)).matches()) {
            name = m.group(1);
          }
        } else {
          block.append('\n');
        }
        block.append(line);
      }
      return found;
    }

    private static String dump() {
      Path file = DIR.resolve("threads-" + FILES.incrementAndGet() + ".txt");
      try {
        BEAN.dumpThreads(file.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.TEXT_PLAIN);
        return Files.readString(file);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } finally {
        try {
          Files.deleteIfExists(file);
        } catch (IOException e) {
          // a stray file in the temp folder
        }
      }
    }
  }
}
