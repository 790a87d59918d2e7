package io.millrace.ingest.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every queue promises, run against each implementation: a subclass says how to open one (role
 * {@code all}, so it has both sides) and how to clean up; a new implementation joins with a
 * subclass of a few lines.
 *
 * <p>After each test: every open queue's budget equals exactly the jobs it holds and has not stored
 * ({@link JobSource#unacknowledged()}, in payloads and bytes), and once closed no thread the queue
 * started is alive.
 */
@Timeout(120)
public abstract class QueueContract {
  @TempDir protected Path dir;
  private final List<JobQueue> opened = new ArrayList<>();
  private Set<Thread> threadsBefore;

  /**
   * Opens a queue of the implementation under test on the storage of this test: a second call is a
   * restart (it sees what the first one left), ready to admit when it returns.
   *
   * @param settings configuration variables on top of the test defaults
   */
  protected abstract JobQueue open(Map<String, String> settings) throws Exception;

  /** Removes what the test left outside {@link #dir} (a stream...); queues are closed by then. */
  protected void cleanUp() throws Exception {}

  @BeforeEach
  void threadsBefore() {
    threadsBefore = Set.copyOf(Thread.getAllStackTraces().keySet());
  }

  @AfterEach
  void invariants() throws Exception {
    try {
      for (JobQueue q : opened) {
        assertBudgetIsWhatIsHeld(q);
      }
    } finally {
      for (JobQueue q : opened) {
        q.close();
      }
      cleanUp();
    }
    Awaitility.await("no thread of a closed queue is alive")
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(() -> assertThat(queueThreads()).isEmpty());
  }

  private List<String> queueThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && !threadsBefore.contains(t))
        .map(Thread::getName)
        .filter(n -> n.toLowerCase().contains("nats") || n.startsWith("millrace"))
        .toList();
  }

  static void assertBudgetIsWhatIsHeld(JobQueue q) {
    List<Job> held = source(q).unacknowledged();
    long bytes = 0;
    for (Job j : held) {
      bytes += j.payload().length;
    }
    assertThat(q.budget().payloads())
        .as("budget payloads = jobs held, not stored")
        .isEqualTo(held.size());
    assertThat(q.budget().bytes()).as("budget bytes = bytes held, not stored").isEqualTo(bytes);
  }

  // ------------------------------------------------------------------ helpers

  protected JobQueue queue(Map<String, String> settings) throws Exception {
    JobQueue q = open(settings);
    opened.add(q);
    return q;
  }

  protected JobQueue queue() throws Exception {
    return queue(Map.of());
  }

  /** Closes a queue now (a restart follows); the after-each check skips it. */
  protected void closeNow(JobQueue q) {
    opened.remove(q);
    q.close();
  }

  protected static Intake intake(JobQueue q) {
    return q.intake().orElseThrow();
  }

  protected static JobSource source(JobQueue q) {
    return q.source().orElseThrow();
  }

  protected static List<byte[]> payloads(String... json) {
    List<byte[]> out = new ArrayList<>();
    for (String j : json) {
      out.add(j.getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  protected static String text(Job j) {
    return new String(j.payload(), StandardCharsets.UTF_8);
  }

  /** Takes n jobs, each within a bounded time. */
  protected static List<Job> take(Iterator<Job> it, int n) throws Exception {
    List<Job> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(CompletableFuture.supplyAsync(it::next).get(15, TimeUnit.SECONDS));
    }
    return out;
  }

  static Set<String> ids(List<Job> jobs) {
    Set<String> s = new HashSet<>();
    for (Job j : jobs) {
      s.add(j.id());
    }
    return s;
  }

  // ------------------------------------------------------------------ the contract

  @Test
  void everyPayloadIsDeliveredOnceInAdmissionOrderWithItsOwnId() throws Exception {
    JobQueue q = queue();
    long t0 = System.currentTimeMillis();
    assertThat(intake(q).admit(payloads("{\"a\":1}"))).isEqualTo(new Admission.Admitted(1));
    assertThat(intake(q).admit(payloads("[2]", "\"three\""))).isEqualTo(new Admission.Admitted(2));
    assertThat(intake(q).admit(payloads("4", "{}", "[]"))).isEqualTo(new Admission.Admitted(3));
    List<Job> jobs = take(source(q).jobs(), 6);
    assertThat(jobs)
        .extracting(QueueContract::text)
        .containsExactly("{\"a\":1}", "[2]", "\"three\"", "4", "{}", "[]");
    assertThat(ids(jobs)).hasSize(6);
    assertThat(jobs).allSatisfy(j -> assertThat(j.admittedAtMillis()).isBetween(t0, t0 + 60_000));
    source(q).ack(jobs);
    assertThat(q.budget().payloads()).isZero();
  }

  @Test
  void theBudgetCoversEveryJobUntilItIsAckedAndAckingTwiceIsOnce() throws Exception {
    JobQueue q = queue();
    intake(q).admit(payloads("\"123456789\"", "\"223456789\"", "\"323456789\"", "\"423456789\""));
    List<Job> jobs = take(source(q).jobs(), 4);
    assertThat(q.budget().payloads()).isEqualTo(4);
    assertThat(q.budget().bytes()).isEqualTo(44);
    source(q).ack(jobs.subList(0, 2));
    source(q).ack(jobs.subList(0, 2));
    assertThat(q.budget().payloads()).isEqualTo(2);
    assertThat(q.budget().bytes()).isEqualTo(22);
    assertThat(source(q).unacknowledged()).containsExactlyInAnyOrderElementsOf(jobs.subList(2, 4));
    source(q).ack(jobs);
    assertThat(q.budget().payloads()).isZero();
    assertThat(q.budget().bytes()).isZero();
  }

  @Test
  void theSameIdempotencyKeyIsAdmittedOnce() throws Exception {
    JobQueue q = queue();
    assertThat(intake(q).admit(payloads("1", "2"), "key-1")).isEqualTo(new Admission.Admitted(2));
    assertThat(intake(q).admit(payloads("1", "2"), "key-1")).isEqualTo(new Admission.Replayed(2));
    assertThat(intake(q).admit(payloads("3"), "key-2")).isEqualTo(new Admission.Admitted(1));
    assertThat(intake(q).admit(payloads("4"))).isEqualTo(new Admission.Admitted(1));
    List<Job> jobs = take(source(q).jobs(), 4);
    assertThat(jobs).extracting(QueueContract::text).containsExactly("1", "2", "3", "4");
    source(q).ack(jobs);
  }

  @Test
  void aRequestLargerThanTheQueueCanEverHoldIsTooLargeAndAdmitsNothing() throws Exception {
    JobQueue q = queue(Map.of("MAX_QUEUE", "3", "MILLRACE_QUEUE_MAX_BYTES", "1024"));
    assertThat(intake(q).admit(payloads("1", "2", "3", "4")))
        .isInstanceOf(Admission.TooLarge.class);
    String big = "\"" + "x".repeat(1100) + "\"";
    Admission a = intake(q).admit(payloads(big));
    assertThat(a).isInstanceOf(Admission.TooLarge.class);
    assertThat(((Admission.TooLarge) a).detail()).contains("can never hold more than 3 payloads");
    assertThat(intake(q).admit(payloads("5"))).isEqualTo(new Admission.Admitted(1));
    List<Job> jobs = take(source(q).jobs(), 1);
    assertThat(text(jobs.getFirst())).isEqualTo("5");
    source(q).ack(jobs);
  }

  @Test
  void afterClosingAdmissionNothingIsAdmittedAndTheIterationEnds() throws Exception {
    JobQueue q = queue();
    intake(q).admit(payloads("1", "2"));
    Iterator<Job> it = source(q).jobs();
    List<Job> jobs = take(it, 2);
    q.closeAdmission();
    assertThat(intake(q).admit(payloads("3"))).isInstanceOf(Admission.ShuttingDown.class);
    assertThat(CompletableFuture.supplyAsync(it::hasNext).get(15, TimeUnit.SECONDS)).isFalse();
    assertThatThrownBy(() -> source(q).jobs()).isInstanceOf(IllegalStateException.class);
    source(q).ack(jobs);
  }

  @Test
  void aJobOfAnotherQueueIsRefused() throws Exception {
    JobQueue q = queue();
    intake(q).admit(payloads("1"));
    Job j = take(source(q).jobs(), 1).getFirst();
    JobQueue other = queue();
    assertThatThrownBy(() -> source(other).ack(List.of(j)))
        .isInstanceOf(IllegalArgumentException.class);
    source(q).ack(List.of(j));
  }

  @Test
  void whatIsNotStoredAtShutdownIsDeliveredAgainAfterARestartBatchesWhole() throws Exception {
    JobQueue q = queue();
    intake(q).admit(payloads("\"a\"", "\"b\""));
    intake(q).admit(payloads("\"c\""));
    intake(q).admit(payloads("\"d\"", "\"e\""));
    List<Job> got = take(source(q).jobs(), 5);
    source(q).ack(got.subList(2, 3)); // "c" is stored
    List<Job> unstored = new ArrayList<>(got);
    unstored.remove(2);
    q.closeAdmission();
    Handover h = source(q).handOver(List.of(got.subList(0, 2))); // "a", "b" formed a batch
    assertThat(h.payloads()).isEqualTo(4);
    closeNow(q);

    JobQueue again = queue();
    List<Job> back = new ArrayList<>();
    for (List<Job> b : source(again).replayedBatches()) {
      assertThat(ids(b)).as("a replayed batch is the batch").isEqualTo(ids(got.subList(0, 2)));
      back.addAll(b);
    }
    back.addAll(take(source(again).jobs(), 4 - back.size()));
    assertThat(ids(back)).as("every unstored payload, once").isEqualTo(ids(unstored));
    assertThat(back)
        .extracting(QueueContract::text)
        .containsExactlyInAnyOrder("\"a\"", "\"b\"", "\"d\"", "\"e\"");
    source(again).ack(back);
  }

  @Test
  void anAbandonedSourceEndsItsIterationAndLosesNothing() throws Exception {
    JobQueue q = queue();
    intake(q).admit(payloads("1", "2", "3"));
    Iterator<Job> it = source(q).jobs();
    List<Job> got = take(it, 1);
    source(q).abandon(new IllegalStateException("test: the consumer died"));
    assertThat(CompletableFuture.supplyAsync(it::hasNext).get(15, TimeUnit.SECONDS)).isFalse();
    q.closeAdmission();
    source(q).handOver(List.of());
    closeNow(q);

    JobQueue again = queue();
    List<Job> back = take(source(again).jobs(), 3);
    assertThat(back).extracting(QueueContract::text).containsExactlyInAnyOrder("1", "2", "3");
    assertThat(ids(back)).contains(got.getFirst().id());
    source(again).ack(back);
  }

  @Test
  void concurrentAdmitsAndAcksAccountForEveryPayloadExactlyOnce() throws Exception {
    JobQueue q = queue();
    int threads = 8;
    int perThread = 50;
    Set<String> sent = ConcurrentHashMap.newKeySet();
    List<Thread> admitters = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int tt = t;
      admitters.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    for (int r = 0; r < perThread; r++) {
                      String a = "{\"t\":" + tt + ",\"r\":" + r + ",\"i\":0}";
                      String b = "{\"t\":" + tt + ",\"r\":" + r + ",\"i\":1}";
                      sent.add(a);
                      sent.add(b);
                      assertThat(intake(q).admit(payloads(a, b)))
                          .isEqualTo(new Admission.Admitted(2));
                    }
                  }));
    }
    Iterator<Job> it = source(q).jobs();
    Set<String> ids = new HashSet<>();
    Set<String> texts = new HashSet<>();
    int total = threads * perThread * 2;
    while (ids.size() < total) {
      List<Job> chunk = take(it, 10);
      for (Job j : chunk) {
        assertThat(ids.add(j.id())).as("delivered once: " + j.id()).isTrue();
        texts.add(text(j));
      }
      source(q).ack(chunk);
    }
    for (Thread t : admitters) {
      assertThat(t.join(Duration.ofSeconds(30))).isTrue();
    }
    assertThat(texts).isEqualTo(sent);
    assertThat(q.budget().payloads()).isZero();
    assertThat(q.budget().bytes()).isZero();
  }
}
