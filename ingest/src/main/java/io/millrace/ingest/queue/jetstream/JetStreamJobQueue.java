package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobQueue;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.PublishOptions;
import io.nats.client.PullSubscribeOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.DiscardPolicy;
import io.nats.client.api.PublishAck;
import io.nats.client.api.RetentionPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable {@link JobQueue}: a NATS JetStream work-queue stream shared by any number of ingest
 * and worker processes.
 *
 * <p><b>Admission</b> ({@link Config.Role#admits()}): a request's payloads travel in one message
 * (all or nothing): the payloads as sent, joined by {@code '\n'}, with a message id, admission time
 * and payload count in headers. {@link #admit} returns only after JetStream acknowledged the
 * publish (it is stored, replicated as configured). Publishing is a group commit: one thread
 * publishes asynchronously with at most {@value #MAX_OUTSTANDING} messages awaiting their acks;
 * requests arriving meanwhile share the next message (up to {@value #MAX_GROUP_BYTES} bytes), so
 * under load the broker and the client do their per-message work once for many requests. A request
 * with an {@code Idempotency-Key} is published alone with the key as {@code Nats-Msg-Id}: a repeat
 * within the stream's duplicate window is not stored again and answers {@link Admission.Replayed}.
 *
 * <p><b>Delivery</b> ({@link Config.Role#stores()}): one thread pulls from the durable consumer
 * while this process holds fewer than its budget ({@code MAX_QUEUE} payloads, {@code
 * MILLRACE_QUEUE_MAX_BYTES}) and turns each message into jobs. A message is acknowledged only when
 * every job in it is {@linkplain #ack stored}. While it is held here (waiting or uploading) a
 * progress signal every third of {@code AckWait} keeps it from being redelivered; if this process
 * dies, JetStream redelivers it after {@code AckWait}. {@link #release} gives jobs back: {@code
 * nak} with a delay that doubles per delivery (1 s up to 30 s), or, at the {@code MaxDeliver}-th
 * delivery, a copy goes to the dead-letter subject (kept in the stream {@code <stream>_DEAD}) and
 * the message is terminated. A message delivered more often than {@code MaxDeliver} (workers kept
 * dying on it) is dead-lettered on arrival. Nothing is dropped silently: if the dead-letter publish
 * fails, the message is nak'ed instead.
 *
 * <p>The stream (work-queue retention, file storage, discard-new at {@code
 * MILLRACE_NATS_MAX_BYTES}), its dead-letter stream and the durable pull consumer are created if
 * missing. The connection reconnects by itself; while it is down, admission answers {@link
 * Admission.Unavailable} and {@link #notReadyReason()} says why.
 *
 * <p>Thread-safe. Closing waits for publishes in flight (up to the publish timeout), flushes the
 * acknowledgements and closes the connection.
 */
public final class JetStreamJobQueue implements JobQueue {
  private static final Logger LOG = LoggerFactory.getLogger(JetStreamJobQueue.class);

  /**
   * Header: the message id; payload {@code i} of the message has the id {@code <message id>-<i>}.
   */
  static final String H_ID = "Millrace-Id";

  /** Header: when the request was admitted, epoch milliseconds. */
  static final String H_AT = "Millrace-Admitted-At";

  /** Header: how many payloads the message holds. */
  static final String H_COUNT = "Millrace-Count";

  /** Header on a dead letter: why it could not be stored. */
  static final String H_ERROR = "Millrace-Error";

  /** Header on a dead letter: how often it was delivered. */
  static final String H_DELIVERIES = "Millrace-Deliveries";

  /** Header on a dead letter: its sequence in the work-queue stream. */
  static final String H_SEQUENCE = "Millrace-Stream-Sequence";

  private static final long MAX_NAK_DELAY_MS = 30_000;
  private static final int MAX_PULL = 256;

  /**
   * Group commit: messages in flight at once; the requests arriving meanwhile share the next one.
   */
  private static final int MAX_OUTSTANDING = 2;

  /** Group commit: a shared message is cut at this size (a larger request still goes alone). */
  private static final int MAX_GROUP_BYTES = 256 * 1024;

  private final Config.Nats cfg;
  private final boolean admits;
  private final boolean delivers;
  private final long maxPayloads;
  private final long maxBytes;
  private final byte[] idPrefix;
  private final AtomicLong sequence = new AtomicLong();
  private final LongSupplier clock;
  private final Metrics metrics;
  private final Options options;
  private volatile Connection nc; // null until the first connect succeeded
  private final PublishOptions plainPublish;
  private final AtomicInteger publishing = new AtomicInteger();
  private final AtomicBoolean iterated = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile JetStream js;
  private volatile JetStreamSubscription sub;
  private volatile boolean ready;
  private volatile String problem = "connecting to NATS";
  private volatile boolean admissionClosed;
  private final Thread keeper;
  private final Thread fetcher;
  private final Thread publisher;

  // group commit: requests without an Idempotency-Key wait here and share messages
  private final ReentrantLock pubLock = new ReentrantLock();
  private final Condition pubWork = pubLock.newCondition();
  private final ArrayDeque<Pending> pending = new ArrayDeque<>(); // guarded by pubLock
  private int outstanding; // messages published and not yet acknowledged; guarded by pubLock

  /** A request waiting to be published with others. */
  private record Pending(List<byte[]> payloads, int size, CompletableFuture<Admission> result) {}

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  private final Condition roomFreed = lock.newCondition();
  // guarded by lock
  private final ArrayDeque<Job> waiting = new ArrayDeque<>();
  private final LinkedHashSet<Delivery> held = new LinkedHashSet<>();
  private long payloads;
  private long bytes;
  private boolean fetchEnded;
  private long avgMessageBytes = 4096;
  private long avgMessagePayloads = 4;

  /** One delivered message: its jobs, and how many of them are not yet stored. */
  private static final class Delivery {
    final Message msg;
    final long delivered;
    final List<Job> jobs = new ArrayList<>();
    int pending; // guarded by lock
    boolean settled; // acked, nak'ed or dead-lettered; guarded by lock

    Delivery(Message msg, long delivered) {
      this.msg = msg;
      this.delivered = delivered;
    }
  }

  /**
   * Connects (in the background if no server answers yet) and starts the threads the role needs.
   *
   * @param config the service's configuration; {@link Config#nats()} and the budget are used
   * @param metrics where counters go
   * @param runId prefix of every request id this process assigns (unique per process start)
   * @param clock epoch milliseconds, for the admission time
   * @throws IOException if the connection cannot even be set up (bad URL)
   * @throws InterruptedException if interrupted while connecting
   */
  public JetStreamJobQueue(Config config, Metrics metrics, String runId, LongSupplier clock)
      throws IOException, InterruptedException {
    this.cfg = config.nats();
    Config.Role role = config.roleKind();
    this.admits = role.admits();
    this.delivers = role.stores();
    this.maxPayloads = config.maxQueue();
    this.maxBytes = config.queueMaxBytes();
    this.idPrefix = (runId + "-").getBytes(StandardCharsets.US_ASCII);
    this.clock = clock;
    this.metrics = metrics;
    this.plainPublish = PublishOptions.builder().expectedStream(cfg.stream()).build();
    this.options =
        Options.builder()
            .servers(cfg.servers().toArray(String[]::new))
            .connectionName("millrace-" + role.configName() + "-" + runId)
            .maxReconnects(-1)
            .reconnectWait(Duration.ofMillis(500))
            .connectionTimeout(Duration.ofSeconds(2))
            .pingInterval(Duration.ofSeconds(5))
            // nothing is buffered blindly while disconnected: admission answers 503 instead, and an
            // ack that cannot be sent means a redelivery (a duplicate), never a loss
            .reconnectBufferSize(0)
            .connectionListener(this::connectionEvent)
            .errorListener(new QuietErrors())
            .build();
    connect(); // at once, so a node that can reach NATS is ready when it says so
    this.keeper = Thread.ofVirtual().name("millrace-nats-keeper").start(this::keep);
    this.fetcher =
        delivers ? Thread.ofVirtual().name("millrace-nats-fetch").start(this::fetchLoop) : null;
    this.publisher =
        admits ? Thread.ofVirtual().name("millrace-nats-publish").start(this::publishLoop) : null;
    if (!delivers) {
      lock.lock();
      try {
        fetchEnded = true;
      } finally {
        lock.unlock();
      }
    }
  }

  private void connectionEvent(Connection conn, ConnectionListener.Events type) {
    switch (type) {
      case DISCONNECTED -> LOG.warn("NATS disconnected; admission answers 503 until it is back");
      case RECONNECTED -> LOG.info("NATS reconnected to {}", conn.getConnectedUrl());
      case CONNECTED -> LOG.info("NATS connected to {}", conn.getConnectedUrl());
      default -> LOG.debug("NATS connection event {}", type);
    }
  }

  /**
   * Logs the client's asynchronous errors at debug level only (the connection events above say what
   * matters).
   */
  private static final class QuietErrors implements ErrorListener {
    @Override
    public void errorOccurred(Connection conn, String error) {
      LOG.debug("NATS error: {}", error);
    }

    @Override
    public void exceptionOccurred(Connection conn, Exception exp) {
      LOG.debug("NATS exception: {}", exp.toString());
    }
  }

  // ------------------------------------------------------------------ set-up and liveness

  /**
   * Tries once to connect (each server once, up to the connection timeout) and to create what is
   * missing. Once connected, the client reconnects by itself for ever; the first connection is
   * retried here, by the keeper, so a node can start before its broker.
   */
  private void connect() throws InterruptedException {
    if (nc == null) {
      try {
        Connection c = Nats.connect(options);
        if (closed.get()) {
          c.close(); // closed while connecting: nothing may outlive the queue
          return;
        }
        nc = c;
      } catch (IOException e) {
        String p = "NATS unreachable (" + e.getMessage() + ")";
        if (!p.equals(problem)) {
          LOG.warn("{}; retrying", p);
        }
        problem = p;
        return;
      }
    }
    if (!ready && nc.getStatus() == Connection.Status.CONNECTED) {
      ensure();
    }
  }

  /** Connects and creates what is missing; sends progress signals for held messages. */
  private void keep() {
    long heartbeatEvery = Math.max(500, cfg.ackWaitMs() / 3);
    long lastBeat = System.nanoTime();
    while (!closed.get()) {
      try {
        connect();
      } catch (InterruptedException e) {
        return;
      }
      if (System.nanoTime() - lastBeat >= TimeUnit.MILLISECONDS.toNanos(heartbeatEvery)) {
        lastBeat = System.nanoTime();
        heartbeat();
      }
      try {
        Thread.sleep(ready ? 200 : 500);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private void ensure() {
    try {
      JetStreamManagement jsm = nc.jetStreamManagement();
      ensureStream(jsm, cfg.stream(), cfg.subject(), RetentionPolicy.WorkQueue);
      ensureStream(jsm, cfg.deadStream(), cfg.deadSubject(), RetentionPolicy.Limits);
      JetStream j = nc.jetStream();
      if (delivers) {
        JetStreamSubscription old = sub;
        if (old != null) {
          sub = null;
          try {
            old.unsubscribe();
          } catch (RuntimeException e) {
            // gone with its connection or consumer
          }
        }
        jsm.addOrUpdateConsumer(
            cfg.stream(),
            ConsumerConfiguration.builder()
                .durable(cfg.consumer())
                .filterSubject(cfg.subject())
                .ackPolicy(AckPolicy.Explicit)
                .ackWait(Duration.ofMillis(cfg.ackWaitMs()))
                // MaxDeliver is enforced here, not by the server: a message the server stops
                // delivering would stay in the stream unseen; ours go to the dead letters
                .maxDeliver(-1)
                .maxAckPending(cfg.maxAckPending())
                .build());
        sub = j.subscribe(cfg.subject(), PullSubscribeOptions.bind(cfg.stream(), cfg.consumer()));
      }
      js = j;
      ready = true;
      problem = null;
      LOG.info(
          "JetStream ready: stream {} ({} replica(s)), subject {}{}",
          cfg.stream(),
          cfg.replicas(),
          cfg.subject(),
          delivers ? ", consumer " + cfg.consumer() : "");
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      String p = "JetStream set-up failed: " + e.getMessage();
      if (!p.equals(problem)) {
        LOG.warn("{} (retrying)", p);
      }
      problem = p;
    }
  }

  private void ensureStream(
      JetStreamManagement jsm, String name, String subject, RetentionPolicy retention)
      throws IOException, JetStreamApiException {
    StreamInfo info;
    try {
      info = jsm.getStreamInfo(name);
    } catch (JetStreamApiException e) {
      if (e.getApiErrorCode() != 10059) { // stream not found
        throw e;
      }
      info = null;
    }
    if (info == null) {
      StreamConfiguration sc =
          StreamConfiguration.builder()
              .name(name)
              .subjects(subject)
              .retentionPolicy(retention)
              .storageType(StorageType.File)
              .replicas(cfg.replicas())
              .duplicateWindow(Duration.ofMillis(cfg.duplicateWindowMs()))
              .maxBytes(cfg.maxBytes())
              // a full stream refuses new messages (admission answers 429); it never drops old ones
              .discardPolicy(DiscardPolicy.New)
              .build();
      try {
        jsm.addStream(sc);
        LOG.info("created JetStream stream {} for {}", name, subject);
      } catch (JetStreamApiException e) {
        if (e.getApiErrorCode() != 10058) { // another node created it just now
          throw e;
        }
      }
      return;
    }
    if (!info.getConfiguration().getSubjects().contains(subject)) {
      throw new IllegalStateException(
          "stream "
              + name
              + " exists but does not capture subject "
              + subject
              + " (its subjects: "
              + info.getConfiguration().getSubjects()
              + ")");
    }
    if (info.getConfiguration().getReplicas() != cfg.replicas()) {
      LOG.warn(
          "stream {} has {} replica(s), MILLRACE_NATS_REPLICAS says {}; the stream is left as it"
              + " is",
          name,
          info.getConfiguration().getReplicas(),
          cfg.replicas());
    }
  }

  private void heartbeat() {
    Delivery[] snapshot;
    lock.lock();
    try {
      snapshot = held.toArray(new Delivery[0]);
    } finally {
      lock.unlock();
    }
    for (Delivery d : snapshot) {
      try {
        d.msg.inProgress();
      } catch (RuntimeException e) {
        return; // disconnected: the next round tries again; redelivery is a duplicate, not a loss
      }
    }
  }

  @Override
  public String notReadyReason() {
    Connection c = nc;
    if (c == null) {
      return problem;
    }
    Connection.Status s = c.getStatus();
    if (s != Connection.Status.CONNECTED) {
      return "NATS unreachable (" + s.name().toLowerCase(java.util.Locale.ROOT) + ")";
    }
    return ready ? null : problem;
  }

  // ------------------------------------------------------------------ admission

  @Override
  public Admission admit(List<byte[]> batch, String idempotencyKey) {
    if (!admits) {
      throw new IllegalStateException("this process does not admit (MILLRACE_ROLE=worker)");
    }
    if (admissionClosed) {
      return new Admission.ShuttingDown();
    }
    int n = batch.size();
    if (n == 0) {
      return new Admission.Admitted(0);
    }
    String reason = notReadyReason();
    if (reason != null) {
      metrics.natsPublishFailures.increment();
      return new Admission.Unavailable(2, reason);
    }
    int size = n - 1;
    for (byte[] b : batch) {
      size += b.length;
    }
    long limit = nc.getMaxPayload() - 512; // room for the headers (nc is set: the queue is ready)
    if (size > limit) {
      return new Admission.TooLarge(
          "the request's payloads take "
              + size
              + " bytes; one NATS message"
              + " holds at most "
              + limit
              + " (the server's max_payload less headers)");
    }
    if (idempotencyKey != null) {
      // alone: its Nats-Msg-Id must name exactly this request
      return publishAlone(batch, size, idempotencyKey);
    }
    Pending p = new Pending(batch, size, new CompletableFuture<>());
    publishing.incrementAndGet();
    try {
      pubLock.lock();
      try {
        pending.addLast(p);
        pubWork.signal();
      } finally {
        pubLock.unlock();
      }
      return p.result().get(cfg.publishTimeoutMs(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      metrics.natsPublishFailures.increment();
      return new Admission.Unavailable(
          2,
          "JetStream did not acknowledge within "
              + cfg.publishTimeoutMs()
              + " ms; retry with an Idempotency-Key to be admitted once");
    } catch (ExecutionException e) {
      return publishFailed(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      metrics.natsPublishFailures.increment();
      return new Admission.Unavailable(2, "interrupted while waiting for JetStream");
    } finally {
      publishing.decrementAndGet();
    }
  }

  /** The message for these payloads: joined by newlines, with id, admission time and count. */
  private NatsMessage message(List<List<byte[]>> requests, int size, int count) {
    byte[] body = new byte[size];
    int at = 0;
    for (List<byte[]> batch : requests) {
      for (byte[] b : batch) {
        if (at > 0) {
          body[at++] = '\n';
        }
        System.arraycopy(b, 0, body, at, b.length);
        at += b.length;
      }
    }
    Headers h = new Headers();
    h.put(H_ID, Job.id(idPrefix, sequence.getAndIncrement()));
    h.put(H_AT, Long.toString(clock.getAsLong()));
    h.put(H_COUNT, Integer.toString(count));
    return NatsMessage.builder().subject(cfg.subject()).headers(h).data(body).build();
  }

  private Admission publishAlone(List<byte[]> batch, int size, String idempotencyKey) {
    NatsMessage msg = message(List.of(batch), size, batch.size());
    PublishOptions po =
        PublishOptions.builder().expectedStream(cfg.stream()).messageId(idempotencyKey).build();
    int n = batch.size();
    publishing.incrementAndGet();
    try {
      CompletableFuture<PublishAck> f = js.publishAsync(msg, po);
      PublishAck ack;
      try {
        ack = f.get(cfg.publishTimeoutMs(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        f.cancel(false);
        metrics.natsPublishFailures.increment();
        return new Admission.Unavailable(
            2,
            "JetStream did not acknowledge within "
                + cfg.publishTimeoutMs()
                + " ms; retry with the same Idempotency-Key to be admitted once");
      } catch (ExecutionException e) {
        return publishFailed(e.getCause());
      }
      if (ack.isDuplicate()) {
        metrics.natsReplayed.increment();
        return new Admission.Replayed(n);
      }
      return new Admission.Admitted(n);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      metrics.natsPublishFailures.increment();
      return new Admission.Unavailable(2, "interrupted while waiting for JetStream");
    } catch (RuntimeException e) {
      return publishFailed(e); // disconnected between the check and the publish, ...
    } finally {
      publishing.decrementAndGet();
    }
  }

  /**
   * Group commit: while {@link #MAX_OUTSTANDING} messages await their acks, arriving requests queue
   * up; the next message takes all of them (up to {@link #MAX_GROUP_BYTES}). Under light load each
   * request is its own message at once; under heavy load many share one, which divides the broker's
   * and the client's per-message work. Each request is still all in one message.
   */
  private void publishLoop() {
    List<Pending> group = new ArrayList<>();
    while (true) {
      group.clear();
      int size = 0;
      int count = 0;
      pubLock.lock();
      try {
        while (pending.isEmpty() || outstanding >= MAX_OUTSTANDING) {
          if (closed.get() && pending.isEmpty()) {
            return;
          }
          pubWork.await(100, TimeUnit.MILLISECONDS);
        }
        long limit = Math.min(MAX_GROUP_BYTES, nc.getMaxPayload() - 512);
        while (!pending.isEmpty()) {
          Pending p = pending.peekFirst();
          int add = p.size() + (count > 0 ? 1 : 0);
          if (!group.isEmpty() && size + add > limit) {
            break;
          }
          group.add(pending.pollFirst());
          size += add;
          count += p.payloads().size();
        }
        outstanding++;
      } catch (InterruptedException e) {
        failAll(new IllegalStateException("the queue is closing"));
        return;
      } finally {
        pubLock.unlock();
      }
      List<Pending> members = List.copyOf(group);
      int total = count;
      try {
        List<List<byte[]>> requests = new ArrayList<>(members.size());
        for (Pending p : members) {
          requests.add(p.payloads());
        }
        js.publishAsync(message(requests, size, total), plainPublish)
            // an ack that never comes (broker gone mid-publish) must not hold a slot for ever
            .orTimeout(cfg.publishTimeoutMs(), TimeUnit.MILLISECONDS)
            .whenComplete(
                (ack, error) -> {
                  published();
                  for (Pending p : members) {
                    if (error == null) {
                      p.result().complete(new Admission.Admitted(p.payloads().size()));
                    } else {
                      p.result().completeExceptionally(error);
                    }
                  }
                });
      } catch (RuntimeException e) {
        published();
        for (Pending p : members) {
          p.result().completeExceptionally(e);
        }
      }
    }
  }

  private void published() {
    pubLock.lock();
    try {
      outstanding--;
      pubWork.signal();
    } finally {
      pubLock.unlock();
    }
  }

  private void failAll(Throwable cause) {
    pubLock.lock();
    try {
      for (Pending p : pending) {
        p.result().completeExceptionally(cause);
      }
      pending.clear();
    } finally {
      pubLock.unlock();
    }
  }

  private Admission publishFailed(Throwable cause) {
    if (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    metrics.natsPublishFailures.increment();
    if (cause instanceof TimeoutException) {
      return new Admission.Unavailable(
          2,
          "JetStream did not acknowledge within "
              + cfg.publishTimeoutMs()
              + " ms; retry with an Idempotency-Key to be admitted once");
    }
    String text =
        cause instanceof JetStreamApiException je
            ? je.getErrorDescription()
            : String.valueOf(cause.getMessage());
    if (text != null && (text.contains("maximum bytes") || text.contains("maximum messages"))) {
      return new Admission.QueueFull(1);
    }
    if (cause instanceof JetStreamApiException je && je.getApiErrorCode() == 10059
        || text != null && text.toLowerCase(java.util.Locale.ROOT).contains("no responders")) {
      // the stream is gone (deleted, or a broker came back without it): the keeper recreates it
      problem = "JetStream stream " + cfg.stream() + " unavailable: " + text;
      ready = false;
    }
    return new Admission.Unavailable(2, "JetStream refused the publish: " + text);
  }

  // ------------------------------------------------------------------ delivery

  private void fetchLoop() {
    try {
      while (!admissionClosed) {
        JetStreamSubscription s = sub;
        if (!ready || s == null || nc == null || nc.getStatus() != Connection.Status.CONNECTED) {
          Thread.sleep(200);
          continue;
        }
        int want = roomInMessages();
        if (want == 0) {
          continue; // admission closed while waiting for room
        }
        try {
          Iterator<Message> it = s.iterate(want, Duration.ofMillis(500));
          while (it.hasNext()) {
            Message m = it.next();
            if (m.isJetStream()) {
              accept(m);
            }
          }
        } catch (IllegalStateException e) {
          // the connection went away mid-pull: wait for it
          Thread.sleep(200);
        } catch (RuntimeException e) {
          // the consumer or stream went away, or the server answered oddly: set them up again
          String p = "pulling from JetStream failed: " + e;
          if (!p.equals(problem)) {
            LOG.warn("{}; setting up the stream and consumer again", p);
          }
          problem = p;
          ready = false;
          Thread.sleep(500);
        }
      }
    } catch (InterruptedException e) {
      // closing
    } finally {
      lock.lock();
      try {
        fetchEnded = true;
        notEmpty.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  /** Waits until the budget has room; {@return how many messages to pull, or 0 if closing} */
  private int roomInMessages() throws InterruptedException {
    lock.lock();
    try {
      while (!admissionClosed && (payloads >= maxPayloads || bytes >= maxBytes)) {
        roomFreed.await(200, TimeUnit.MILLISECONDS);
      }
      if (admissionClosed) {
        return 0;
      }
      long byPayloads = (maxPayloads - payloads) / Math.max(1, avgMessagePayloads);
      long byBytes = (maxBytes - bytes) / Math.max(1, avgMessageBytes);
      return (int) Math.max(1, Math.min(MAX_PULL, Math.min(byPayloads, byBytes)));
    } finally {
      lock.unlock();
    }
  }

  private void accept(Message m) {
    long delivered = m.metaData().deliveredCount();
    if (delivered > 1) {
      metrics.natsRedelivered.increment();
    }
    Delivery d = new Delivery(m, delivered);
    try {
      decode(m, d);
    } catch (IllegalArgumentException e) {
      d.jobs.clear();
      settle(d, e);
      return;
    }
    List<Job> jobs = d.jobs;
    d.pending = jobs.size();
    if (delivered > cfg.maxDeliver()) {
      deadLetter(
          d,
          "delivered "
              + delivered
              + " times, more than MILLRACE_NATS_MAX_DELIVER="
              + cfg.maxDeliver()
              + " (workers holding it may have died on it)");
      return;
    }
    if (jobs.isEmpty()) {
      m.ack();
      return;
    }
    long size = 0;
    for (Job j : jobs) {
      size += j.payload().length;
    }
    lock.lock();
    try {
      held.add(d);
      waiting.addAll(jobs);
      payloads += jobs.size();
      bytes += size;
      avgMessageBytes = (avgMessageBytes * 7 + size) / 8;
      avgMessagePayloads = Math.max(1, (avgMessagePayloads * 7 + jobs.size()) / 8);
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Adds the message's payloads to {@code d} as jobs ({@code <request id>-<index>}); throws if
   * malformed.
   */
  private static void decode(Message m, Delivery d) {
    Headers h = m.getHeaders();
    String id = h == null ? null : h.getFirst(H_ID);
    String atText = h == null ? null : h.getFirst(H_AT);
    String countText = h == null ? null : h.getFirst(H_COUNT);
    if (id == null || atText == null || countText == null) {
      throw new IllegalArgumentException(
          "not a millrace message: headers "
              + H_ID
              + ", "
              + H_AT
              + " and "
              + H_COUNT
              + " are required");
    }
    long at;
    int count;
    try {
      at = Long.parseLong(atText);
      count = Integer.parseInt(countText);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad " + H_AT + " or " + H_COUNT + " header");
    }
    byte[] data = m.getData();
    List<Job> jobs = d.jobs;
    int from = 0;
    if (data != null && data.length > 0) {
      for (int i = 0; i <= data.length; i++) {
        if (i == data.length || data[i] == '\n') {
          if (i == from) {
            throw new IllegalArgumentException("empty payload at index " + jobs.size());
          }
          jobs.add(new Job(id + "-" + jobs.size(), at, Arrays.copyOfRange(data, from, i), null, d));
          from = i + 1;
        }
      }
    }
    if (jobs.size() != count) {
      throw new IllegalArgumentException(
          "the message holds "
              + jobs.size()
              + " payloads, its "
              + H_COUNT
              + " header says "
              + count);
    }
  }

  @Override
  public Iterator<Job> jobs() {
    if (!delivers) {
      throw new IllegalStateException("this process does not store (MILLRACE_ROLE=ingest)");
    }
    if (!iterated.compareAndSet(false, true)) {
      throw new IllegalStateException("jobs() may be called once");
    }
    return new Iterator<>() {
      private Job next;

      @Override
      public boolean hasNext() {
        if (next != null) {
          return true;
        }
        lock.lock();
        try {
          while (true) {
            Job j = waiting.pollFirst();
            if (j != null) {
              if (j.acked) {
                continue; // its message was given back while it waited
              }
              next = j;
              return true;
            }
            if (fetchEnded) {
              return false;
            }
            try {
              notEmpty.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new CancellationException("interrupted while waiting for jobs");
            }
          }
        } finally {
          lock.unlock();
        }
      }

      @Override
      public Job next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        Job j = next;
        next = null;
        return j;
      }
    };
  }

  private static Delivery deliveryOf(Job j) {
    if (!(j.delivery() instanceof Delivery d)) {
      throw new IllegalArgumentException("not a job of this queue: " + j);
    }
    return d;
  }

  @Override
  public void ack(Collection<Job> stored) {
    List<Delivery> done = new ArrayList<>();
    lock.lock();
    try {
      for (Job j : stored) {
        if (j.acked) {
          continue;
        }
        Delivery d = deliveryOf(j);
        j.acked = true;
        payloads--;
        bytes -= j.payload().length;
        if (!d.settled && --d.pending == 0) {
          d.settled = true;
          held.remove(d);
          done.add(d);
        }
      }
      roomFreed.signalAll();
    } finally {
      lock.unlock();
    }
    for (Delivery d : done) {
      try {
        d.msg.ack();
      } catch (RuntimeException e) {
        // not connected: JetStream redelivers it after AckWait and it is stored again (a duplicate)
        metrics.natsAckFailures.increment();
      }
    }
  }

  @Override
  public boolean durable() {
    return true;
  }

  @Override
  public void release(Collection<Job> jobs, Throwable cause) {
    List<Delivery> given = new ArrayList<>();
    lock.lock();
    try {
      for (Job j : jobs) {
        Delivery d = deliveryOf(j);
        if (d.settled) {
          continue;
        }
        d.settled = true;
        held.remove(d);
        given.add(d);
        for (Job k : d.jobs) {
          if (!k.acked) {
            k.acked = true;
            payloads--;
            bytes -= k.payload().length;
          }
        }
      }
      roomFreed.signalAll();
    } finally {
      lock.unlock();
    }
    for (Delivery d : given) {
      settle(d, cause);
    }
  }

  /** Gives one message back: at once (shutdown), later, or to the dead letters. */
  private void settle(Delivery d, Throwable cause) {
    try {
      if (cause == null) {
        d.msg.nak();
      } else if (d.delivered >= cfg.maxDeliver()) {
        deadLetter(d, cause.toString());
      } else {
        long delay = Math.min(MAX_NAK_DELAY_MS, 1000L << Math.min(d.delivered - 1, 5));
        d.msg.nakWithDelay(Duration.ofMillis(delay));
        metrics.natsNaks.increment();
        LOG.warn(
            "gave message {} back to JetStream (delivery {} of {}), redelivered in {} ms: {}",
            d.msg.metaData().streamSequence(),
            d.delivered,
            cfg.maxDeliver(),
            delay,
            cause.toString());
      }
    } catch (RuntimeException e) {
      // not connected: it is redelivered after AckWait anyway
      metrics.natsAckFailures.increment();
    }
  }

  private void deadLetter(Delivery d, String reason) {
    Message m = d.msg;
    Headers h = new Headers();
    Headers original = m.getHeaders();
    if (original != null) {
      for (String key : original.keySet()) {
        if (!key.equalsIgnoreCase("Nats-Msg-Id") && !key.startsWith("Nats-Expected")) {
          h.put(key, original.get(key));
        }
      }
    }
    String safe = reason.replaceAll("[\\r\\n]", " ");
    h.put(H_ERROR, safe.length() > 500 ? safe.substring(0, 500) : safe);
    h.put(H_DELIVERIES, Long.toString(d.delivered));
    h.put(H_SEQUENCE, Long.toString(m.metaData().streamSequence()));
    try {
      js.publish(
          NatsMessage.builder().subject(cfg.deadSubject()).headers(h).data(m.getData()).build(),
          PublishOptions.builder().expectedStream(cfg.deadStream()).build());
      m.term();
      metrics.natsDeadLettered.increment();
      metrics.natsDeadLetteredPayloads.increment(d.jobs.size());
      LOG.error(
          "dead-lettered message {} ({} payloads) to {} after {} deliveries: {}",
          m.metaData().streamSequence(),
          d.jobs.size(),
          cfg.deadSubject(),
          d.delivered,
          safe);
    } catch (IOException | JetStreamApiException | RuntimeException e) {
      LOG.warn(
          "could not dead-letter message {} ({}); giving it back instead",
          m.metaData().streamSequence(),
          e.toString());
      try {
        m.nakWithDelay(Duration.ofMillis(MAX_NAK_DELAY_MS));
      } catch (RuntimeException ignored) {
        // redelivered after AckWait
      }
    }
  }

  // ------------------------------------------------------------------ budget and life cycle

  @Override
  public void adopt(List<Job> jobs, boolean waiting) {
    throw new UnsupportedOperationException(
        "spill files are replayed only with MILLRACE_QUEUE=memory");
  }

  @Override
  public void closeAdmission() {
    admissionClosed = true;
    lock.lock();
    try {
      roomFreed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<Job> unacknowledged() {
    lock.lock();
    try {
      List<Job> all = new ArrayList<>();
      for (Delivery d : held) {
        for (Job j : d.jobs) {
          if (!j.acked) {
            all.add(j);
          }
        }
      }
      return all;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long payloads() {
    lock.lock();
    try {
      return payloads;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long bytes() {
    lock.lock();
    try {
      return bytes;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long maxPayloads() {
    return maxPayloads;
  }

  @Override
  public long maxBytes() {
    return maxBytes;
  }

  /** {@return whether this queue's threads have ended and its connection is closed (tests)} */
  boolean stopped() {
    Connection c = nc;
    return !keeper.isAlive()
        && (fetcher == null || !fetcher.isAlive())
        && (publisher == null || !publisher.isAlive())
        && (c == null || c.getStatus() == Connection.Status.CLOSED);
  }

  /**
   * Stops admission and pulling, waits for publishes in flight (up to the publish timeout) and the
   * pull thread, flushes acknowledgements and closes the connection. Jobs still held are not given
   * back here: call {@link #release} with them first, or JetStream redelivers them after {@code
   * AckWait}.
   */
  @Override
  public void close() {
    closeAdmission();
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(cfg.publishTimeoutMs());
    boolean interrupted = false;
    try {
      while (publishing.get() > 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      if (fetcher != null) {
        fetcher.join(Duration.ofSeconds(5));
      }
      if (publisher != null) {
        publisher.join(Duration.ofSeconds(2)); // ends once nothing is pending (closed is set)
        publisher.interrupt();
        publisher.join(Duration.ofSeconds(2));
        failAll(new IllegalStateException("the queue closed"));
      }
      keeper.interrupt();
      keeper.join(Duration.ofSeconds(5));
      if (nc != null && nc.getStatus() == Connection.Status.CONNECTED) {
        nc.flush(Duration.ofSeconds(2));
      }
    } catch (InterruptedException e) {
      interrupted = true;
    } catch (TimeoutException | RuntimeException e) {
      LOG.warn("flushing NATS at shutdown: {}", e.toString());
    }
    try {
      if (nc != null) {
        nc.close();
      }
    } catch (InterruptedException e) {
      interrupted = true;
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
