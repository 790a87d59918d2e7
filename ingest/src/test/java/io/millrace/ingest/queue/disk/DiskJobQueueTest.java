package io.millrace.ingest.queue.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.memory.MemoryJobQueue;
import io.millrace.ingest.queue.memory.Spill;
import io.millrace.ingest.testing.TestSupport;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The local-log queue on its own: what a restart replays, batches rebuilt under their names, the
 * reader bounded whatever the backlog, a full disk, a torn tail, old spill files. Exact accounting
 * throughout: which payloads were admitted, which are delivered back.
 */
@Timeout(120)
class DiskJobQueueTest {
  @TempDir Path dir;
  private final List<DiskJobQueue> opened = new ArrayList<>();
  private Path mount;

  @AfterEach
  void closeAll() throws Exception {
    for (DiskJobQueue q : opened) {
      q.close();
    }
    if (mount != null) {
      run("umount", mount.toString());
    }
  }

  /** A clock the test moves. */
  static final class TestClock implements InstantSource {
    final AtomicLong millis = new AtomicLong(1_700_000_000_000L);

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }
  }

  private DiskJobQueue open(Path logDir, DiskQueueOptions options, ChannelOpener opener)
      throws Exception {
    DiskJobQueue q =
        DiskJobQueue.open(
            logDir,
            100_000,
            1L << 30,
            options,
            DiskLogOptions.defaults().withMaxRecordBytes(64 << 10).withSegmentBytes(256 << 10),
            null,
            new Metrics(),
            opener);
    opened.add(q);
    return q;
  }

  private DiskJobQueue open(DiskQueueOptions options) throws Exception {
    return open(dir.resolve("queue"), options, ChannelOpener.DEFAULT);
  }

  private static DiskQueueOptions options() throws Exception {
    return DiskQueueOptions.of(Config.defaults());
  }

  private void closeNow(DiskJobQueue q) {
    opened.remove(q);
    q.close();
  }

  private static List<byte[]> request(int r, int n, int pad) {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(
          ("{\"r\":" + r + ",\"i\":" + i + ",\"p\":\"" + "x".repeat(pad) + "\"}")
              .getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  private static String text(Job j) {
    return new String(j.payload(), StandardCharsets.UTF_8);
  }

  private static List<String> texts(List<Job> jobs) {
    return jobs.stream().map(DiskJobQueueTest::text).toList();
  }

  private static List<String> ids(List<Job> jobs) {
    return jobs.stream().map(Job::id).toList();
  }

  /**
   * One consumer thread over a queue's iteration (the iterator is for one reader), feeding what it
   * takes into a deque the test polls with bounded waits.
   */
  static final class Feed {
    private static final Job END = new Job("end", 0, new byte[0], null);
    private final LinkedBlockingDeque<Job> got = new LinkedBlockingDeque<>();
    private volatile boolean ended;

    Feed(Iterator<Job> it) {
      Thread.ofVirtual()
          .name("test-feed")
          .start(
              () -> {
                try {
                  while (it.hasNext()) {
                    got.add(it.next());
                  }
                } catch (RuntimeException e) {
                  // cancelled or failed: the test sees the end
                } finally {
                  got.add(END);
                }
              });
    }

    List<Job> take(int n) throws Exception {
      List<Job> out = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Job j = got.poll(15, TimeUnit.SECONDS);
        assertThat(j).as("job %d of %d within 15 s", i, n).isNotNull();
        assertThat(j).as("the iteration ended early").isNotSameAs(END);
        out.add(j);
      }
      return out;
    }

    /** {@return whether another job comes within {@code ms}} (it stays to be taken) */
    boolean anotherComes(long ms) throws Exception {
      Job j = got.poll(ms, TimeUnit.MILLISECONDS);
      if (j == null) {
        return false;
      }
      got.addFirst(j);
      return j != END;
    }

    /** {@return whether the iteration ends within 15 s (nothing else coming)} */
    boolean ends() throws Exception {
      Job j = got.poll(15, TimeUnit.SECONDS);
      return j == END;
    }
  }

  private static List<Job> take(Iterator<Job> it, int n) throws Exception {
    return new Feed(it).take(n);
  }

  @Test
  void aRestartReplaysExactlyWhatWasNotStoredAndRebuildsPendingBatchesUnderTheirNames()
      throws Exception {
    DiskJobQueue q = open(options());
    for (int r = 0; r < 4; r++) {
      assertThat(q.admit(request(r, 3, 10))).isEqualTo(new Admission.Admitted(3));
    }
    List<Job> all = take(q.jobs(), 12);
    FixedBatch a = q.fix(all.subList(0, 4));
    FixedBatch b = q.fix(all.subList(4, 9)); // fixed, uploaded, never stored (the crash)
    assertThat(a.recoverable()).isTrue();
    assertThat(a.name()).isEqualTo(q.logId() + "-" + String.format("%020d-%020d", 0, 3));
    assertThat(b.name()).isEqualTo(q.logId() + "-" + String.format("%020d-%020d", 4, 8));
    assertThat(ids(a.jobs())).isEqualTo(ids(all.subList(0, 4)));
    q.ack(a);
    q.ack(List.of(all.get(4), all.get(5))); // per payload: part of b stored, b not yet whole
    assertThat(q.budget().payloads()).isEqualTo(8);
    String logId = q.logId();
    closeNow(q);

    DiskJobQueue again = open(options());
    assertThat(again.logId()).isEqualTo(logId);
    assertThat(again.budget().payloads()).as("b whole and the 3 never batched").isEqualTo(8);
    assertThat(again.replayedBatches()).hasSize(1);
    List<Job> replayed = again.replayedBatches().getFirst();
    assertThat(ids(replayed)).isEqualTo(ids(b.jobs()));
    assertThat(texts(replayed)).isEqualTo(texts(b.jobs()));
    assertThat(replayed)
        .extracting(Job::admittedAtMillis)
        .isEqualTo(b.jobs().stream().map(Job::admittedAtMillis).toList());
    FixedBatch b2 = again.fix(replayed);
    assertThat(b2.name()).as("the same batch, the same key").isEqualTo(b.name());
    assertThat(b2.firstAdmittedAtMillis()).isEqualTo(b.firstAdmittedAtMillis());
    Feed it = new Feed(again.jobs());
    List<Job> rest = it.take(3);
    assertThat(ids(rest)).isEqualTo(ids(all.subList(9, 12)));
    assertThat(texts(rest)).isEqualTo(texts(all.subList(9, 12)));
    assertThat(it.anotherComes(300)).as("nothing stored comes back").isFalse();
    again.ack(b2);
    again.ack(again.fix(rest));
    assertThat(again.budget().payloads()).isZero();
    assertThat(again.budget().bytes()).isZero();
    closeNow(again);

    DiskJobQueue third = open(options());
    assertThat(third.replayedBatches()).isEmpty();
    assertThat(third.budget().payloads()).isZero();
    assertThat(third.unacknowledged()).isEmpty();
  }

  @Test
  void fixingOutOfOrderIsRefusedAndFixesNothing() throws Exception {
    DiskJobQueue q = open(options());
    q.admit(request(0, 4, 1));
    List<Job> all = take(q.jobs(), 4);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> q.fix(all.subList(1, 3)))
        .isInstanceOf(IllegalArgumentException.class);
    FixedBatch ok = q.fix(all.subList(0, 2));
    assertThat(q.fix(all.subList(0, 2))).as("fixing again is the same batch").isEqualTo(ok);
    q.ack(ok);
    q.ack(q.fix(all.subList(2, 4)));
    assertThat(q.budget().payloads()).isZero();
  }

  @Test
  void theReaderStaysWithinTheInFlightBoundWhateverTheBacklog() throws Exception {
    int bound = 100;
    DiskJobQueue q = open(options().withInFlight(bound, 1L << 30));
    int requests = 100;
    int per = 50;
    for (int r = 0; r < requests; r++) {
      assertThat(q.admit(request(r, per, 1000))).isEqualTo(new Admission.Admitted(per));
    }
    long backlog = (long) requests * per;
    assertThat(q.budget().payloads()).isEqualTo(backlog);
    Feed it = new Feed(q.jobs());
    List<String> seen = new ArrayList<>();
    long maxInFlight = 0;
    while (seen.size() < backlog) {
      List<Job> chunk = it.take(bound);
      maxInFlight = Math.max(maxInFlight, q.inFlightPayloads());
      if (seen.isEmpty()) {
        assertThat(it.anotherComes(300))
            .as("the reader waits at the bound while 5,000 payloads wait on disk")
            .isFalse();
        assertThat(q.inFlightPayloads()).isEqualTo(bound);
      }
      seen.addAll(texts(chunk));
      q.ack(q.fix(chunk));
    }
    assertThat(maxInFlight).isLessThanOrEqualTo(bound);
    assertThat(seen).hasSize((int) backlog).doesNotHaveDuplicates();
    assertThat(q.budget().payloads()).isZero();
    assertThat(q.log().stats().segments()).as("stored segments are deleted").isLessThanOrEqualTo(2);
  }

  @Test
  void aFullDiskAnswersWriteFailedAndAdmissionRecoversOnceSpaceReturns() throws Exception {
    AtomicBoolean full = new AtomicBoolean();
    ChannelOpener opener = HookedChannel.fullDisk(full::get, 0);
    TestClock clock = new TestClock();
    DiskJobQueue q = open(dir.resolve("queue"), options().withClock(clock), opener);
    diskFullAndBack(q, clock, () -> full.set(true), () -> full.set(false));
  }

  /**
   * A full disk can still take a small record (a cut, a stored mark) where a request does not fit:
   * such a write must not make the queue look ready while requests are refused.
   */
  @Test
  void aSmallControlRecordThatFitsOnAFullDiskDoesNotClearTheNotReadyReason() throws Exception {
    AtomicBoolean full = new AtomicBoolean();
    ChannelOpener opener = HookedChannel.fullDisk(full::get, 200);
    TestClock clock = new TestClock();
    DiskJobQueue q = open(dir.resolve("queue"), options().withClock(clock), opener);
    List<byte[]> first = request(0, 10, 100);
    assertThat(q.admit(first)).isEqualTo(new Admission.Admitted(10));
    full.set(true);
    assertThat(q.admit(request(1, 10, 100))).isInstanceOf(Admission.WriteFailed.class);
    assertThat(q.notReadyReason()).contains("disk full");

    List<Job> back = take(q.jobs(), 10);
    q.ack(q.fix(back)); // small records: they fit
    assertThat(q.log().stats().lastError()).as("the log's last write succeeded").isNull();
    assertThat(q.notReadyReason())
        .as("still not ready: no request has been admitted since the failure")
        .contains("disk full");

    full.set(false);
    assertThat(q.admit(request(2, 10, 100))).isEqualTo(new Admission.Admitted(10));
    assertThat(q.notReadyReason()).as("ready again once a request is admitted").isNull();
  }

  @Test
  void aFullTmpfsAnswersWriteFailedAndAdmissionRecoversOnceSpaceReturns() throws Exception {
    mount = dir.resolve("tmpfs");
    Files.createDirectories(mount);
    boolean mounted = run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount.toString());
    if (!mounted) {
      mount = null;
    }
    assumeThat(mounted).as("mounting a tmpfs needs root; the substitute above still runs").isTrue();
    TestClock clock = new TestClock();
    DiskJobQueue q =
        open(mount.resolve("queue"), options().withClock(clock), ChannelOpener.DEFAULT);
    Path filler = mount.resolve("filler");
    diskFullAndBack(
        q,
        clock,
        () -> {
          try (OutputStream out = Files.newOutputStream(filler)) {
            out.write(new byte[2 << 20]);
          } catch (IOException expected) {
            // the file system is full now
          }
        },
        () -> {
          try {
            Files.delete(filler);
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
        });
  }

  private void diskFullAndBack(DiskJobQueue q, TestClock clock, Runnable fill, Runnable free)
      throws Exception {
    List<String> accepted = new ArrayList<>();
    for (int r = 0; r < 5; r++) {
      List<byte[]> p = request(r, 10, 100);
      assertThat(q.admit(p)).isEqualTo(new Admission.Admitted(10));
      p.forEach(b -> accepted.add(new String(b, StandardCharsets.UTF_8)));
    }
    fill.run();
    Admission failed = null;
    for (int r = 5; r < 5000 && failed == null; r++) {
      List<byte[]> p = request(r, 10, 100);
      Admission a = q.admit(p);
      if (a instanceof Admission.Admitted) {
        p.forEach(b -> accepted.add(new String(b, StandardCharsets.UTF_8)));
      } else {
        failed = a;
      }
    }
    assertThat(failed).isInstanceOf(Admission.WriteFailed.class);
    Admission.WriteFailed w = (Admission.WriteFailed) failed;
    assertThat(w.cause()).isEqualTo(Admission.WriteFailure.DISK_FULL);
    assertThat(w.detail()).contains("disk full");
    assertThat(q.budget().payloads()).as("nothing of a failed request").isEqualTo(accepted.size());
    assertThat(q.notReadyReason()).contains("disk full");
    free.run();
    clock.millis.addAndGet(6_000); // readiness tries again after its window
    assertThat(q.notReadyReason()).isNull();
    List<byte[]> p = request(-1, 10, 100);
    assertThat(q.admit(p)).isEqualTo(new Admission.Admitted(10));
    p.forEach(b -> accepted.add(new String(b, StandardCharsets.UTF_8)));
    assertThat(q.notReadyReason()).isNull();

    List<Job> back = take(q.jobs(), accepted.size());
    assertThat(texts(back)).isEqualTo(accepted);
    q.ack(q.fix(back));
    assertThat(q.budget().payloads()).isZero();
  }

  @Test
  void aTornTailKeepsEveryCompleteRecordAtTheQueue() throws Exception {
    long seed = Long.getLong("millrace.torn.seed", System.nanoTime());
    System.out.println("DiskJobQueueTest torn tail seed " + seed);
    Random random = new Random(seed);
    for (int round = 0; round < 10; round++) {
      Path logDir = dir.resolve("torn-" + round);
      DiskJobQueue q = open(logDir, options(), ChannelOpener.DEFAULT);
      List<Long> ends = new ArrayList<>(); // byte size of the segment after each record
      List<List<String>> records = new ArrayList<>();
      int n = 5 + random.nextInt(20);
      for (int r = 0; r < n; r++) {
        List<byte[]> p = request(r, 1 + random.nextInt(5), random.nextInt(200));
        assertThat(q.admit(p)).isInstanceOf(Admission.Admitted.class);
        records.add(p.stream().map(b -> new String(b, StandardCharsets.UTF_8)).toList());
        ends.add(q.log().stats().logBytes());
      }
      closeNow(q);
      Path segment = LogFixtures.segmentFiles(logDir).getLast();
      long first = ends.getFirst();
      long cut = first + (long) (random.nextDouble() * (ends.getLast() - first));
      try (RandomAccessFile f = new RandomAccessFile(segment.toFile(), "rw")) {
        f.setLength(cut);
      }
      int complete = 0;
      while (complete < ends.size() && ends.get(complete) <= cut) {
        complete++;
      }
      List<String> expected = new ArrayList<>();
      for (int r = 0; r < complete; r++) {
        expected.addAll(records.get(r));
      }
      DiskJobQueue again = open(logDir, options(), ChannelOpener.DEFAULT);
      assertThat(again.log().recovery().tornTail().isPresent())
          .as("seed %d round %d: a tail cut inside a record is reported", seed, round)
          .isEqualTo(!ends.contains(cut));
      assertThat(again.budget().payloads()).isEqualTo(expected.size());
      Feed it = new Feed(again.jobs());
      List<Job> back = it.take(expected.size());
      assertThat(texts(back)).as("seed %d round %d", seed, round).isEqualTo(expected);
      assertThat(it.anotherComes(100)).isFalse();
      again.ack(again.fix(back));
      // the log takes appends after the cut again
      assertThat(again.admit(request(99, 2, 1))).isEqualTo(new Admission.Admitted(2));
      closeNow(again);
    }
  }

  @Test
  void spillFilesOfTheMemoryQueueAreTakenInOnceThenRemoved() throws Exception {
    Path data = dir.resolve("data");
    Config config = TestSupport.config(data, Map.of("MILLRACE_QUEUE", "memory"));
    MemoryJobQueue memory = MemoryJobQueue.open(config, "old", System::currentTimeMillis);
    memory.admit(request(0, 3, 5));
    memory.admit(request(1, 2, 5));
    List<Job> formed = take(memory.jobs(), 2);
    memory.closeAdmission();
    assertThat(memory.handOver(List.of(formed)).payloads()).isEqualTo(5);
    memory.close();
    assertThat(Spill.hasFiles(Spill.dir(data))).isTrue();

    Config disk = TestSupport.config(data, Map.of());
    DiskJobQueue q = DiskJobQueue.open(disk, new Metrics());
    opened.add(q);
    assertThat(q.migratedPayloads()).isEqualTo(5);
    assertThat(Spill.hasFiles(Spill.dir(data))).as("removed once durable in the log").isFalse();
    List<Job> back = take(q.jobs(), 5);
    assertThat(texts(back)).containsExactlyInAnyOrderElementsOf(expectedTexts());
    closeNow(q);

    DiskJobQueue again = DiskJobQueue.open(disk, new Metrics());
    opened.add(again);
    assertThat(again.migratedPayloads()).isZero();
    assertThat(again.budget().payloads()).as("taken in once").isEqualTo(5);
    List<Job> stillThere = take(again.jobs(), 5);
    again.ack(again.fix(stillThere));
    assertThat(again.budget().payloads()).isZero();
  }

  private static List<String> expectedTexts() {
    List<String> out = new ArrayList<>();
    for (byte[] b : request(0, 3, 5)) {
      out.add(new String(b, StandardCharsets.UTF_8));
    }
    for (byte[] b : request(1, 2, 5)) {
      out.add(new String(b, StandardCharsets.UTF_8));
    }
    return out;
  }

  @Test
  void anIdempotencyKeyIsAnsweredReplayedAfterARestartWithinTheWindowEvenOnceStored()
      throws Exception {
    DiskJobQueue q = open(options());
    assertThat(q.admit(request(0, 2, 1), "k")).isEqualTo(new Admission.Admitted(2));
    assertThat(q.admit(request(0, 2, 1), "k")).isEqualTo(new Admission.Replayed(2));
    assertThat(q.admit(request(1, 3, 1), "stored")).isEqualTo(new Admission.Admitted(3));
    for (int r = 2; r < 42; r++) {
      assertThat(q.admit(request(r, 10, 1000))).isEqualTo(new Admission.Admitted(10));
    }
    List<Job> all = take(q.jobs(), 405);
    q.ack(q.fix(all)); // stored: the first segment, holding both keys, is wholly stored
    assertThat(q.budget().payloads()).isZero();
    assertThat(dir.resolve("queue").resolve(RecordFormat.segmentName(1)))
        .as("rolled over")
        .exists();
    assertThat(dir.resolve("queue").resolve(RecordFormat.segmentName(0)))
        .as("a stored segment is kept while its keys are within the window")
        .exists();
    closeNow(q);

    DiskJobQueue again = open(options());
    assertThat(again.admit(request(0, 2, 1), "k")).isEqualTo(new Admission.Replayed(2));
    assertThat(again.admit(request(1, 3, 1), "stored")).isEqualTo(new Admission.Replayed(3));
    assertThat(again.budget().payloads()).as("nothing admitted twice").isZero();
    assertThat(again.unacknowledged()).isEmpty();
    closeNow(again);

    long later = System.currentTimeMillis() + options().duplicateWindowMs() + 1;
    DiskJobQueue afterTheWindow = open(options().withClock(() -> Instant.ofEpochMilli(later)));
    assertThat(afterTheWindow.admit(request(0, 2, 1), "k"))
        .as("past the window the key is forgotten")
        .isEqualTo(new Admission.Admitted(2));
    afterTheWindow.ack(afterTheWindow.fix(take(afterTheWindow.jobs(), 2)));
  }

  @Test
  void aKeyedAppendThatWasNeverAnsweredIsReplayedAfterARestart() throws Exception {
    // the record is durable but its caller got no answer (a kill -9 between fsync and reply): at
    // the level of the log, an append under the key with no acknowledgement in memory
    Path logDir = dir.resolve("queue");
    DiskJobQueue first = open(options());
    closeNow(first);
    try (DiskLog log =
        DiskLog.open(
            logDir,
            DiskLogOptions.defaults().withMaxRecordBytes(64 << 10).withSegmentBytes(256 << 10))) {
      log.append(request(7, 4, 1), "unanswered", Duration.ofSeconds(5));
    }
    DiskJobQueue q = open(options());
    assertThat(q.admit(request(7, 4, 1), "unanswered")).isEqualTo(new Admission.Replayed(4));
    assertThat(q.budget().payloads()).isEqualTo(4);
    List<Job> jobs = take(q.jobs(), 4);
    assertThat(texts(jobs)).hasSize(4).doesNotHaveDuplicates();
    q.ack(q.fix(jobs));
  }

  @Test
  void aClosedQueueAnswersShuttingDownAndEndsTheIteration() throws Exception {
    DiskJobQueue q = open(options());
    q.admit(request(0, 2, 1));
    Feed it = new Feed(q.jobs());
    List<Job> got = it.take(2);
    q.closeAdmission();
    assertThat(q.admit(request(1, 1, 1))).isInstanceOf(Admission.ShuttingDown.class);
    assertThat(it.ends()).isTrue();
    assertThat(q.handOver(List.of()).payloads()).isEqualTo(2);
    q.ack(q.fix(got));
    assertThat(q.budget().payloads()).isZero();
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
