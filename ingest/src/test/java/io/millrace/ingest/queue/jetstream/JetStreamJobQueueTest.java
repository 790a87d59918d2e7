package io.millrace.ingest.queue.jetstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Intake;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobSource;
import io.millrace.ingest.queue.Redelivery;
import io.millrace.ingest.testing.NatsServerProcess;
import io.millrace.ingest.testing.TestSupport;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.RetentionPolicy;
import io.nats.client.api.StreamInfo;
import io.nats.client.impl.Headers;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JetStream queue against the real nats-server on {@code 127.0.0.1:4222} (each test uses its
 * own stream, deleted afterwards): one message per request, ack only after {@link JobSource#ack},
 * idempotency keys, nak and redelivery, dead letters after MaxDeliver, progress signals that keep a
 * held message from being redelivered, the pull budget, and an unreachable broker.
 */
@Timeout(60)
class JetStreamJobQueueTest {
  static final String URL = TestSupport.NATS_URL;

  @TempDir Path dir;
  String stream;
  Connection admin;
  final List<JetStreamJobQueue> queues = new ArrayList<>();

  @BeforeEach
  void names() throws Exception {
    stream = "T" + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36).toUpperCase();
    admin = Nats.connect(URL);
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (JetStreamJobQueue q : queues) {
      q.close();
    }
    JetStreamManagement jsm = admin.jetStreamManagement();
    for (String s : List.of(stream, stream + "_DEAD", "KV_" + stream + "_BATCHES")) {
      try {
        jsm.deleteStream(s);
      } catch (JetStreamApiException e) {
        // not created
      }
    }
    admin.close();
  }

  Config config(String role, Map<String, String> extra) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_QUEUE", URL);
    env.put("MILLRACE_ROLE", role);
    env.put("MILLRACE_NATS_STREAM", stream);
    env.put("MILLRACE_NATS_SUBJECT", stream.toLowerCase() + ".payloads");
    env.put("MILLRACE_NATS_DEAD_SUBJECT", stream.toLowerCase() + ".dead");
    env.put("MILLRACE_NATS_CONSUMER", "workers");
    env.putAll(extra);
    return TestSupport.config(dir, env);
  }

  JetStreamJobQueue queue(Config c, Metrics m) throws Exception {
    JetStreamJobQueue q =
        new JetStreamJobQueue(c, m, "run" + queues.size(), System::currentTimeMillis);
    queues.add(q);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> q.notReadyReason() == null);
    return q;
  }

  static List<byte[]> payloads(String... json) {
    List<byte[]> out = new ArrayList<>();
    for (String j : json) {
      out.add(j.getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  StreamInfo info(String name) throws Exception {
    return admin.jetStreamManagement().getStreamInfo(name);
  }

  /** Takes n jobs from the iterator, each within a bounded time. */
  static List<Job> take(Iterator<Job> it, int n) throws Exception {
    List<Job> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      CompletableFuture<Job> f = CompletableFuture.supplyAsync(it::next);
      out.add(f.get(10, TimeUnit.SECONDS));
    }
    return out;
  }

  static Intake in(JetStreamJobQueue q) {
    return q.intake().orElseThrow();
  }

  static JobSource src(JetStreamJobQueue q) {
    return q.source().orElseThrow();
  }

  static Redelivery back(JetStreamJobQueue q) {
    return src(q).redelivery().orElseThrow();
  }

  static String text(Job j) {
    return new String(j.payload(), StandardCharsets.UTF_8);
  }

  @Test
  void aRequestIsOneMessageAndItLeavesTheStreamOnlyWhenEveryPayloadIsAcked() throws Exception {
    Metrics m = new Metrics();
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    JetStreamJobQueue worker = queue(config("worker", Map.of()), m);

    assertThat(in(ingest).admit(payloads("{\"a\":1}", "[2]", "\"three\"")))
        .isEqualTo(new Admission.Admitted(3));
    StreamInfo si = info(stream);
    assertThat(si.getStreamState().getMsgCount()).as("one message per request").isEqualTo(1);
    assertThat(si.getConfiguration().getRetentionPolicy()).isEqualTo(RetentionPolicy.WorkQueue);
    assertThat(info(stream + "_DEAD").getConfiguration().getSubjects())
        .containsExactly(stream.toLowerCase() + ".dead");

    List<Job> jobs = take(src(worker).jobs(), 3);
    assertThat(jobs)
        .extracting(JetStreamJobQueueTest::text)
        .containsExactly("{\"a\":1}", "[2]", "\"three\"");
    assertThat(jobs.get(0).id()).endsWith("-0");
    assertThat(jobs.get(2).id()).isEqualTo(jobs.get(0).id().replaceAll("-0$", "-2"));
    assertThat(worker.budget().payloads()).isEqualTo(3);

    src(worker).ack(jobs.subList(0, 2));
    Thread.sleep(300);
    assertThat(info(stream).getStreamState().getMsgCount())
        .as("not acked while a payload is unstored")
        .isEqualTo(1);
    src(worker).ack(jobs.subList(2, 3));
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
    assertThat(worker.budget().payloads()).isZero();
    assertThat(worker.budget().bytes()).isZero();
  }

  @Test
  void concurrentRequestsShareMessagesYetEachIsAllInOne() throws Exception {
    Metrics m = new Metrics();
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    int threads = 32;
    int perThread = 40;
    java.util.concurrent.ConcurrentHashMap<String, Boolean> sent =
        new java.util.concurrent.ConcurrentHashMap<>();
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int tt = t;
      ts.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    for (int r = 0; r < perThread; r++) {
                      List<byte[]> req = new ArrayList<>();
                      for (int i = 0; i < 3; i++) {
                        String p = "{\"t\":" + tt + ",\"r\":" + r + ",\"i\":" + i + "}";
                        req.add(p.getBytes(StandardCharsets.UTF_8));
                        sent.put(p, true);
                      }
                      assertThat(in(ingest).admit(req)).isEqualTo(new Admission.Admitted(3));
                    }
                  }));
    }
    for (Thread t : ts) {
      assertThat(t.join(Duration.ofSeconds(30))).isTrue();
    }
    long messages = info(stream).getStreamState().getMsgCount();
    assertThat(messages).as("requests share messages under load").isLessThan(threads * perThread);

    JetStreamJobQueue worker = queue(config("worker", Map.of()), m);
    List<Job> all = take(src(worker).jobs(), threads * perThread * 3);
    List<String> texts = all.stream().map(JetStreamJobQueueTest::text).toList();
    assertThat(texts).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(sent.keySet());
    // all of a request is in one message, in order: its three payloads are neighbours
    for (int k = 0; k < texts.size(); k++) {
      if (texts.get(k).endsWith("\"i\":0}")) {
        String stem = texts.get(k).substring(0, texts.get(k).length() - 2);
        assertThat(texts.get(k + 1)).isEqualTo(stem + "1}");
        assertThat(texts.get(k + 2)).isEqualTo(stem + "2}");
        assertThat(all.get(k + 2).id().replaceAll("-\\d+$", ""))
            .isEqualTo(all.get(k).id().replaceAll("-\\d+$", ""));
      }
    }
    src(worker).ack(all);
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
    System.out.println(
        "group commit: " + threads * perThread + " requests in " + messages + " messages");
  }

  @Test
  void theSameIdempotencyKeyIsAdmittedOnce() throws Exception {
    Metrics m = new Metrics();
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    assertThat(in(ingest).admit(payloads("{\"x\":1}", "{\"x\":2}"), "key-1"))
        .isEqualTo(new Admission.Admitted(2));
    assertThat(in(ingest).admit(payloads("{\"x\":1}", "{\"x\":2}"), "key-1"))
        .isEqualTo(new Admission.Replayed(2));
    assertThat(in(ingest).admit(payloads("{\"x\":1}", "{\"x\":2}"), "key-2"))
        .isEqualTo(new Admission.Admitted(2));
    assertThat(info(stream).getStreamState().getMsgCount()).isEqualTo(2);
    assertThat(m.natsReplayed.count()).isEqualTo(1.0);
  }

  @Test
  void releasedJobsAreRedeliveredWithADelayThenDeadLetteredAfterMaxDeliver() throws Exception {
    Metrics m = new Metrics();
    Config c = config("all", Map.of("MILLRACE_NATS_MAX_DELIVER", "2"));
    JetStreamJobQueue q = queue(c, m);
    assertThat(in(q).admit(payloads("{\"poison\":true}", "{\"n\":2}")))
        .isEqualTo(new Admission.Admitted(2));
    Iterator<Job> it = src(q).jobs();
    // what the worker tells JetStream about its messages, read off the wire
    List<String> acks = new java.util.concurrent.CopyOnWriteArrayList<>();
    admin
        .createDispatcher(msg -> acks.add(new String(msg.getData(), StandardCharsets.UTF_8)))
        .subscribe("$JS.ACK." + stream + ".>");
    admin.flush(Duration.ofSeconds(5));

    List<Job> first = take(it, 2);
    back(q).giveBack(first.subList(0, 1), new IOException("store says no"));
    assertThat(q.budget().payloads()).as("the whole message is given back").isZero();
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> acks.stream().anyMatch(a -> a.startsWith("-NAK")));
    // nak'ed with the first delay, 1 s (when it is redelivered is the server's part: nats-server
    // 2.9 at times hands a message nak'ed with a delay to a waiting pull at once)
    assertThat(acks.stream().filter(a -> a.startsWith("-NAK")).toList())
        .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
        .matches("-NAK \\{\"delay\": ?1000000000}");
    List<Job> second = take(it, 2);
    assertThat(second)
        .extracting(JetStreamJobQueueTest::text)
        .containsExactly("{\"poison\":true}", "{\"n\":2}");
    assertThat(second.get(0).id()).as("same ids on redelivery").isEqualTo(first.get(0).id());
    assertThat(m.natsRedelivered.count()).isEqualTo(1.0);

    back(q)
        .giveBack(
            second, new IOException("store still says no")); // the 2nd delivery of 2: dead letter
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream + "_DEAD").getStreamState().getMsgCount() == 1);
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
    assertThat(m.natsDeadLettered.count()).isEqualTo(1.0);
    assertThat(m.natsDeadLetteredPayloads.count()).isEqualTo(2.0);

    var raw = admin.jetStreamManagement().getMessage(stream + "_DEAD", 1);
    assertThat(new String(raw.getData(), StandardCharsets.UTF_8))
        .isEqualTo("{\"poison\":true}\n{\"n\":2}");
    assertThat(raw.getHeaders().getFirst(Codec.H_ERROR)).contains("store still says no");
    assertThat(raw.getHeaders().getFirst(Codec.H_DELIVERIES)).isEqualTo("2");
    assertThat(raw.getHeaders().getFirst(Codec.H_COUNT)).isEqualTo("2");
  }

  @Test
  void aMalformedMessageIsDeadLetteredAfterMaxDeliverNeverDropped() throws Exception {
    Metrics m = new Metrics();
    JetStreamJobQueue q = queue(config("worker", Map.of("MILLRACE_NATS_MAX_DELIVER", "2")), m);
    Iterator<Job> it = src(q).jobs();
    Headers h =
        new Headers()
            .put(Codec.H_ID, "x")
            .put(Codec.H_AT, "1")
            .put(Codec.H_COUNT, "5"); // says 5, holds 2
    admin
        .jetStream()
        .publish(stream.toLowerCase() + ".payloads", h, "{}\n{}".getBytes(StandardCharsets.UTF_8));
    admin
        .jetStream()
        .publish(stream.toLowerCase() + ".payloads", "no headers".getBytes(StandardCharsets.UTF_8));
    Awaitility.await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> info(stream + "_DEAD").getStreamState().getMsgCount() == 2);
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
    assertThat(m.natsDeadLettered.count()).isEqualTo(2.0);
    assertThat(m.natsNaks.count()).as("each nak'ed once before").isEqualTo(2.0);
    assertThat(q.budget().payloads()).isZero();
    assertThat(it).isNotNull();
  }

  @Test
  void aHeldMessageIsNotRedeliveredWhileItsWorkerLives() throws Exception {
    Metrics m = new Metrics();
    JetStreamJobQueue q = queue(config("all", Map.of("MILLRACE_NATS_ACK_WAIT_MS", "1000")), m);
    in(q).admit(payloads("{\"slow\":1}"));
    Iterator<Job> it = src(q).jobs();
    List<Job> held = take(it, 1);
    Thread.sleep(3500); // 3.5 AckWaits: the progress signals keep it ours
    assertThat(m.natsRedelivered.count()).isZero();
    ConsumerInfo ci = admin.jetStreamManagement().getConsumerInfo(stream, "workers");
    assertThat(ci.getRedelivered()).isZero();
    src(q).ack(held);
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
  }

  /** Takes the next rebuilt batch, within a bounded time. */
  static FixedBatch nextRebuilt(Iterator<FixedBatch> it) throws Exception {
    return CompletableFuture.supplyAsync(it::next).get(15, TimeUnit.SECONDS);
  }

  static List<String> ids(List<Job> jobs) {
    return jobs.stream().map(Job::id).toList();
  }

  @Test
  void aBatchFixedByAWorkerThatDiedIsRebuiltWholeUnderItsNameByTheNext() throws Exception {
    Metrics m = new Metrics();
    Config c = config("worker", Map.of("MILLRACE_NATS_ACK_WAIT_MS", "1000"));
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    for (int i = 0; i < 3; i++) {
      in(ingest).admit(payloads("{\"r\":" + i + ",\"k\":0}", "{\"r\":" + i + ",\"k\":1}"));
    }
    JetStreamJobQueue dying = queue(c, m);
    List<Job> taken = take(src(dying).jobs(), 6);
    // a batch of the first three payloads: all of message 1, half of message 2
    FixedBatch fixed = src(dying).fix(taken.subList(0, 3));
    assertThat(fixed.recoverable()).isTrue();
    assertThat(ids(fixed.jobs())).isEqualTo(ids(taken.subList(0, 3)));
    dying.close(); // as good as killed after the upload, before the ack
    queues.remove(dying);

    JetStreamJobQueue next = queue(c, new Metrics());
    Iterator<FixedBatch> rebuilt = src(next).rebuilt();
    FixedBatch again = nextRebuilt(rebuilt);
    assertThat(again.name()).isEqualTo(fixed.name());
    assertThat(ids(again.jobs())).isEqualTo(ids(fixed.jobs()));
    assertThat(again.jobs().stream().map(JetStreamJobQueueTest::text).toList())
        .isEqualTo(fixed.jobs().stream().map(JetStreamJobQueueTest::text).toList());
    // the rest comes out as jobs, to be batched afresh; nothing of the fixed batch does
    List<Job> rest = take(src(next).jobs(), 3);
    assertThat(ids(rest)).isEqualTo(ids(taken.subList(3, 6)));
    src(next).ack(again);
    src(next).ack(rest);
    // When message 2 comes back in a later pull than message 1, a second rebuild of the batch may
    // follow; the service stores it too. Each copy must be the whole batch: a subset under the same
    // name (the same key) would overwrite the stored object and lose the rest.
    List<FixedBatch> copies = storeTheOthers(next, rebuilt);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
    for (FixedBatch copy : List.copyOf(copies)) {
      assertThat(copy.name()).isEqualTo(fixed.name());
      assertThat(ids(copy.jobs())).isEqualTo(ids(fixed.jobs()));
    }
  }

  /**
   * Acknowledges every further rebuilt batch of {@code q}, as the service's batcher stores them, on
   * a thread that ends when the queue closes; {@return the batches acknowledged so far}
   */
  static List<FixedBatch> storeTheOthers(JetStreamJobQueue q, Iterator<FixedBatch> rebuilt) {
    List<FixedBatch> copies = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread.ofVirtual()
        .name("test-store-rebuilt")
        .start(
            () -> {
              try {
                while (rebuilt.hasNext()) {
                  FixedBatch b = rebuilt.next();
                  copies.add(b);
                  src(q).ack(b);
                }
              } catch (RuntimeException e) {
                // the queue closed under it at the end of the test
              }
            });
    return copies;
  }

  @Test
  void aStoredBatchWhoseLastMessageComesBackIsAcknowledgedNotStoredAgainAsASubset()
      throws Exception {
    Metrics m = new Metrics();
    Config c = config("worker", Map.of("MILLRACE_NATS_ACK_WAIT_MS", "1000"));
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    in(ingest).admit(payloads("{\"r\":0}"));
    in(ingest).admit(payloads("{\"r\":1,\"k\":0}", "{\"r\":1,\"k\":1}"));
    JetStreamJobQueue dying = queue(c, m);
    List<Job> taken = take(src(dying).jobs(), 3);
    FixedBatch b = src(dying).fix(taken.subList(0, 2)); // message 1 whole, half of message 2
    src(dying).ack(b); // stored: message 1 is acknowledged, message 2 waits for its other half
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 1);
    dying.close(); // message 2 comes back, half of it claimed by b
    queues.remove(dying);

    JetStreamJobQueue next = queue(c, new Metrics());
    List<FixedBatch> copies = storeTheOthers(next, src(next).rebuilt());
    List<Job> rest = take(src(next).jobs(), 1);
    assertThat(ids(rest)).isEqualTo(ids(taken.subList(2, 3)));
    src(next).ack(rest);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
    assertThat(copies)
        .as("b is stored: a rebuild of what is left of it would overwrite its object with a subset")
        .isEmpty();
  }

  @Test
  void theSameDeliveryHandedOverTwiceGivesItsPayloadsOutOnce() throws Exception {
    JetStreamJobQueue q = queue(config("all", Map.of()), new Metrics());
    in(q).admit(payloads("{\"a\":1}", "{\"a\":2}"));
    Iterator<Job> it = src(q).jobs();
    List<Job> got = take(it, 2);
    // what nats-server before 2.9.23 at times does (nats-io/nats-server#4460): the same delivery
    // to two pull requests
    Delivery d = ((Delivery.Held) got.getFirst().receipt()).delivery;
    ((Deliveries) src(q)).accept(d.msg);
    CompletableFuture<Job> more = CompletableFuture.supplyAsync(it::next);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> more.get(1, TimeUnit.SECONDS))
        .isInstanceOf(java.util.concurrent.TimeoutException.class);
    assertThat(q.budget().payloads()).as("counted once").isEqualTo(2);
    src(q).ack(got);
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
    assertThat(q.budget().payloads()).isZero();
    // and once more, late, after the message was acknowledged and deleted
    ((Deliveries) src(q)).accept(d.msg);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> more.get(1, TimeUnit.SECONDS))
        .as("the late copy is not handed out either")
        .isInstanceOf(java.util.concurrent.TimeoutException.class);
    assertThat(q.budget().payloads()).isZero();
  }

  @Test
  void aMessageDeliveredAgainWhileHeldIsNotHandedOutAgain() throws Exception {
    JetStreamJobQueue q = queue(config("all", Map.of()), new Metrics());
    in(q).admit(payloads("{\"s\":1}", "{\"s\":2}"));
    Iterator<Job> it = src(q).jobs();
    List<Job> first = take(it, 2);
    // the server takes the message back and delivers it again while this worker holds it, as
    // after a broker restart
    Delivery d = ((Delivery.Held) first.getFirst().receipt()).delivery;
    admin.publish(d.msg.getReplyTo(), "-NAK".getBytes(StandardCharsets.UTF_8));
    CompletableFuture<Job> more = CompletableFuture.supplyAsync(it::next);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> more.get(2, TimeUnit.SECONDS))
        .as("its payloads are handed out once")
        .isInstanceOf(java.util.concurrent.TimeoutException.class);
    FixedBatch b = src(q).fix(first);
    assertThat(b.jobs()).isEqualTo(first);
    src(q).ack(b); // through the first delivery: acks go by stream sequence
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
    assertThat(q.budget().payloads()).isZero();
  }

  @Test
  void aBatchFixedTwiceForTheSamePayloadsKeepsWhatTheFirstClaimed() throws Exception {
    Metrics m = new Metrics();
    Config c = config("worker", Map.of("MILLRACE_NATS_ACK_WAIT_MS", "1000"));
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    in(ingest).admit(payloads("{\"a\":1}", "{\"a\":2}"));
    in(ingest).admit(payloads("{\"b\":1}"));
    JetStreamJobQueue first = queue(c, m);
    List<Job> taken = take(src(first).jobs(), 3);
    FixedBatch a = src(first).fix(taken.subList(0, 2));
    first.close();
    queues.remove(first);
    // the next worker gets both messages again; a batch it forms of message 2 alone is its own,
    // while message 1's payloads are rebuilt into batch a
    JetStreamJobQueue next = queue(c, new Metrics());
    FixedBatch rebuilt = nextRebuilt(src(next).rebuilt());
    assertThat(rebuilt.name()).isEqualTo(a.name());
    List<Job> rest = take(src(next).jobs(), 1);
    FixedBatch b = src(next).fix(rest);
    assertThat(ids(b.jobs())).isEqualTo(ids(taken.subList(2, 3)));
    assertThat(b.name()).isNotEqualTo(a.name());
    src(next).ack(rebuilt);
    src(next).ack(b);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
  }

  @Test
  void anUnackedMessageOfADeadWorkerIsRedeliveredAfterAckWait() throws Exception {
    Metrics m = new Metrics();
    Config c = config("worker", Map.of("MILLRACE_NATS_ACK_WAIT_MS", "1000"));
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    JetStreamJobQueue dying = queue(c, m);
    in(ingest).admit(payloads("{\"k\":1}"));
    Job first = take(src(dying).jobs(), 1).getFirst();
    dying.close(); // no ack, no nak, no more progress signals: as good as killed
    queues.remove(dying);
    Metrics m2 = new Metrics();
    JetStreamJobQueue other = queue(c, m2);
    Job again = take(src(other).jobs(), 1).getFirst();
    assertThat(again.id()).isEqualTo(first.id());
    assertThat(m2.natsRedelivered.count()).isEqualTo(1.0);
    src(other).ack(List.of(again));
  }

  @Test
  void atShutdownAWorkerGivesWhatItHoldsBackAtOnce() throws Exception {
    Metrics m = new Metrics();
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    in(ingest).admit(payloads("{\"h\":1}", "{\"h\":2}"));
    in(ingest).admit(payloads("{\"h\":3}"));
    Config c = config("worker", Map.of("MILLRACE_NATS_ACK_WAIT_MS", "60000"));
    JetStreamJobQueue leaving = queue(c, m);
    Iterator<Job> it = src(leaving).jobs();
    List<Job> got = take(it, 3);
    src(leaving).ack(got.subList(2, 3)); // the second message is stored and acked
    leaving.closeAdmission();
    assertThat(it.hasNext()).as("no more pulls after closing").isFalse();
    List<Job> held = src(leaving).unacknowledged();
    assertThat(held).hasSize(2);
    back(leaving).giveBack(held, null);
    leaving.close();
    queues.remove(leaving);

    long t0 = System.nanoTime();
    JetStreamJobQueue next = queue(c, new Metrics());
    List<Job> again = take(src(next).jobs(), 2);
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
        .as("not after the 60 s ack wait")
        .isLessThan(10_000);
    assertThat(again)
        .extracting(JetStreamJobQueueTest::text)
        .containsExactly("{\"h\":1}", "{\"h\":2}");
    src(next).ack(again);
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
  }

  @Test
  void theWorkerPullsNoMoreThanItsBudget() throws Exception {
    Metrics m = new Metrics();
    JetStreamJobQueue ingest = queue(config("ingest", Map.of()), m);
    for (int i = 0; i < 50; i++) {
      assertThat(
              in(ingest).admit(payloads("{\"i\":" + i + ",\"a\":0}", "{\"i\":" + i + ",\"a\":1}")))
          .isInstanceOf(Admission.Admitted.class);
    }
    JetStreamJobQueue worker = queue(config("worker", Map.of("MAX_QUEUE", "10")), m);
    Iterator<Job> it = src(worker).jobs();
    List<Job> got = take(it, 2);
    Thread.sleep(1000);
    assertThat(worker.budget().payloads()).as("held by this worker").isBetween(2L, 12L);
    int total = 0;
    while (total < 100) {
      src(worker).ack(got);
      total += got.size();
      if (total < 100) {
        got = take(it, 2);
      }
      assertThat(worker.budget().payloads()).isLessThanOrEqualTo(12L);
    }
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
  }

  @Test
  void aStreamDeletedUnderneathIsCreatedAgainAndBothSidesCarryOn() throws Exception {
    Metrics m = new Metrics();
    JetStreamJobQueue q = queue(config("all", Map.of()), m);
    Iterator<Job> it = src(q).jobs();
    assertThat(in(q).admit(payloads("{\"before\":1}"))).isEqualTo(new Admission.Admitted(1));
    src(q).ack(take(it, 1));
    admin.jetStreamManagement().deleteStream(stream);
    // admission notices, the keeper recreates stream and consumer, the puller carries on
    Awaitility.await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> in(q).admit(payloads("{\"after\":1}")) instanceof Admission.Admitted);
    Job after = take(it, 1).getFirst();
    assertThat(text(after)).isEqualTo("{\"after\":1}");
    src(q).ack(List.of(after));
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> info(stream).getStreamState().getMsgCount() == 0);
  }

  @Test
  void nothingOutlivesClose() throws Exception {
    java.util.function.Supplier<List<String>> natsThreads =
        () ->
            Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(n -> n.toLowerCase().contains("nats"))
                .toList();
    List<String> before = natsThreads.get();
    JetStreamJobQueue q = queue(config("all", Map.of()), new Metrics());
    Iterator<Job> it = src(q).jobs();
    in(q).admit(payloads("{\"x\":1}"));
    Job j = take(it, 1).getFirst();
    src(q).ack(List.of(j));
    assertThat(q.stopped()).isFalse();
    q.close();
    queues.remove(q);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(q::stopped);
    assertThat(it.hasNext()).isFalse();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(natsThreads.get()).as("client threads").isSubsetOf(before));

    // closed while it still cannot reach its broker: the connect loop ends too
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    JetStreamJobQueue unreachable =
        new JetStreamJobQueue(
            config("all", Map.of("MILLRACE_QUEUE", "nats://127.0.0.1:" + port)),
            new Metrics(),
            "r",
            System::currentTimeMillis);
    Thread.sleep(700);
    unreachable.close();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(unreachable::stopped);
  }

  @Test
  void aFrozenBrokerMeans503WithinThePublishTimeoutThenAdmissionRecovers() throws Exception {
    try (NatsServerProcess nats = NatsServerProcess.start(dir.resolve("frozen"))) {
      Config c =
          config(
              "ingest",
              Map.of("MILLRACE_QUEUE", nats.url(), "MILLRACE_NATS_PUBLISH_TIMEOUT_MS", "1000"));
      JetStreamJobQueue q = queue(c, new Metrics());
      assertThat(in(q).admit(payloads("{\"warm\":1}"))).isInstanceOf(Admission.Admitted.class);
      nats.pause();
      try {
        // more requests than group commit has slots: none may hang, each answers within the timeout
        List<CompletableFuture<Admission>> answers = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < 8; i++) {
          int n = i;
          answers.add(
              CompletableFuture.supplyAsync(() -> in(q).admit(payloads("{\"frozen\":" + n + "}"))));
        }
        for (CompletableFuture<Admission> a : answers) {
          assertThat(a.get(10, TimeUnit.SECONDS)).isInstanceOf(Admission.Unavailable.class);
        }
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(6000);
      } finally {
        nats.resume();
      }
      // the slots of the messages that got no ack in time are free again: admission recovers
      Awaitility.await()
          .atMost(Duration.ofSeconds(15))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> in(q).admit(payloads("{\"thawed\":1}")) instanceof Admission.Admitted);
      q.close();
      queues.remove(q);
    }
  }

  @Test
  void anUnreachableBrokerMeansUnavailableNotAHang() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Config c = config("ingest", Map.of("MILLRACE_QUEUE", "nats://127.0.0.1:" + port));
    long t0 = System.nanoTime();
    JetStreamJobQueue q = new JetStreamJobQueue(c, new Metrics(), "r", System::currentTimeMillis);
    queues.add(q);
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
        .as("starts without the broker")
        .isLessThan(5000);
    assertThat(q.notReadyReason()).contains("NATS unreachable");
    Admission a = in(q).admit(payloads("{}"));
    assertThat(a).isInstanceOf(Admission.Unavailable.class);
    assertThat(((Admission.Unavailable) a).retryAfterSeconds()).isPositive();
  }
}
