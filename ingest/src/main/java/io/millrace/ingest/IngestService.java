package io.millrace.ingest;

import io.helidon.webserver.WebServer;
import io.millrace.ingest.config.Config;
import io.millrace.ingest.http.HttpApi;
import io.millrace.ingest.http.ServiceState;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.Handover;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.JobSource;
import io.millrace.ingest.queue.jetstream.JetStreamJobQueue;
import io.millrace.ingest.queue.memory.MemoryJobQueue;
import io.millrace.ingest.queue.memory.Spill;
import io.millrace.ingest.store.EmbeddedS3;
import io.millrace.ingest.store.ObjectStore;
import io.millrace.ingest.store.S3Store;
import io.millrace.ingest.workers.Workers;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * One running service: the store (embedded or external), the queue, the worker pipeline and the
 * HTTP server, started in that order and stopped in the reverse one by {@link #shutdown()}.
 *
 * <p>Which parts run depends on {@code MILLRACE_ROLE}: an ingest node has no store and no workers,
 * a worker node's HTTP server serves only the probes and metrics.
 *
 * <p>Shutdown: readiness and admission answer 503 at once; the workers drain the queue up to {@code
 * MILLRACE_DRAIN_TIMEOUT_MS}; with the in-memory queue, whatever is still not stored is written to
 * {@code <dataDir>/spill/} and the next start replays it; with JetStream, it is given back to the
 * stream at once (another worker takes it). Then the HTTP server and the store stop.
 */
public final class IngestService implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(IngestService.class);

  private final Config config;
  private final String runId;
  private final EmbeddedS3 embedded;
  private final S3Store store;
  private final JobQueue queue;
  private final Metrics metrics;
  private volatile Workers workers; // set once, at the end of the start
  private final WebServer server;
  private final int replayedPayloads;
  private final AtomicBoolean shuttingDown = new AtomicBoolean();
  private final ReentrantLock shutdownLock = new ReentrantLock();
  private volatile boolean storeReachable = true;
  private volatile boolean stopped;
  private final Thread healthChecker;
  private volatile ShutdownReport report;

  /** What shutdown did, for logs and tests. */
  public record ShutdownReport(long stored, int spilled, boolean drained) {}

  private IngestService(
      Config config,
      AwsCredentialsProvider externalCredentials,
      UnaryOperator<ObjectStore> workersStore)
      throws Exception {
    // Start-up runs three things side by side to stay well under 2 s on a small box: S3Proxy on
    // one thread, the HTTP server on another, the S3 client and bucket on this one.
    long t0 = System.nanoTime();
    this.config = config;
    this.runId = newRunId();
    Config.Role role = config.roleKind();
    Files.createDirectories(config.dataDir());
    this.metrics = new Metrics();
    if (config.durableQueue()) {
      queue = new JetStreamJobQueue(config, metrics, runId, System::currentTimeMillis);
    } else {
      // replays what the last run spilled, before anything new is admitted
      queue = MemoryJobQueue.open(config, runId, System::currentTimeMillis);
    }
    Budget budget = queue.budget();
    metrics.gauge(
        "millrace_queue_payloads",
        "payloads admitted (or pulled) and not yet stored",
        budget::payloads);
    metrics.gauge(
        "millrace_queue_bytes",
        "payload bytes admitted (or pulled) and not yet stored",
        budget::bytes);
    metrics.gauge("millrace_queue_max_payloads", "MAX_QUEUE", budget::maxPayloads);
    metrics.gauge("millrace_queue_max_bytes", "MILLRACE_QUEUE_MAX_BYTES", budget::maxBytes);

    if (config.durableQueue() && Spill.hasFiles(Spill.dir(config.dataDir()))) {
      LOG.warn(
          "{} holds spill files of an earlier run with MILLRACE_QUEUE=memory; they are replayed"
              + " only with MILLRACE_QUEUE=memory",
          Spill.dir(config.dataDir()));
    }
    replayedPayloads = queue.source().map(JobSource::replayedPayloads).orElse(0);
    metrics.payloadsReplayed.increment(replayedPayloads);

    boolean embeddedStore = config.embedded() && role.stores();
    FutureTask<EmbeddedS3> s3proxy = null;
    int s3Port = 0;
    String secret = EmbeddedS3.newSecret();
    if (embeddedStore) {
      s3Port = config.embeddedS3Port() != 0 ? config.embeddedS3Port() : freeLoopbackPort();
      int port = s3Port;
      // the filesystem backend's bucket is a folder: made here, it costs no request at start-up
      Files.createDirectories(EmbeddedS3.baseDir(config.dataDir()).resolve(config.bucket()));
      s3proxy = new FutureTask<>(() -> EmbeddedS3.start(config.dataDir(), port, secret));
      Thread.ofPlatform().name("millrace-start-s3").start(s3proxy);
    }
    storeReachable = false; // until the bucket answered
    HttpApi api = new HttpApi(config, queue.intake().orElse(null), metrics, new State());
    FutureTask<WebServer> http = new FutureTask<>(api::startServer);
    Thread.ofPlatform().name("millrace-start-http").start(http);

    EmbeddedS3 emb = null;
    S3Store s3 = null;
    WebServer web = null;
    try {
      if (embeddedStore) {
        s3 =
            new S3Store(
                URI.create("http://127.0.0.1:" + s3Port),
                config.s3Region(),
                config.bucket(),
                StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(EmbeddedS3.ACCESS_KEY, secret)),
                Duration.ofMillis(config.s3TimeoutMs()),
                metrics::s3Status);
        emb = join(s3proxy);
        trace("s3proxy", t0);
      } else if (role.stores()) {
        s3 =
            new S3Store(
                config.s3Endpoint(),
                config.s3Region(),
                config.bucket(),
                externalCredentials != null
                    ? externalCredentials
                    : DefaultCredentialsProvider.builder().build(),
                Duration.ofMillis(config.s3TimeoutMs()),
                metrics::s3Status);
      }
      web = join(http);
      trace("http", t0);
    } catch (Exception | Error e) {
      if (s3proxy != null) {
        try {
          join(s3proxy).close();
        } catch (Exception ignored) {
          // already failing
        }
      }
      try {
        join(http).stop();
      } catch (Exception ignored) {
        // already failing
      }
      if (s3 != null) {
        s3.close();
      }
      queue.close();
      throw e;
    }
    embedded = emb;
    store = s3;
    server = web;
    // an external store is checked by the health thread, at once; an ingest node has no store
    storeReachable = embeddedStore || !role.stores();

    if (role.stores()) {
      workers =
          new Workers(
              config,
              queue.source().orElseThrow(),
              workersStore.apply(store),
              metrics,
              () -> storeReachable = false,
              () -> storeReachable = true);
      workers.start();
    } else {
      workers = null;
    }
    healthChecker =
        store == null
            ? null
            : Thread.ofVirtual().name("millrace-store-health").start(this::checkStore);
  }

  private static <T> T join(FutureTask<T> task) throws Exception {
    try {
      return task.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception ex) {
        throw ex;
      }
      throw e;
    }
  }

  private static int freeLoopbackPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** The service's phase and readiness, as the HTTP layer reads them. */
  private final class State implements ServiceState {
    @Override
    public Phase phase() {
      return shuttingDown.get() ? Phase.SHUTTING_DOWN : Phase.SERVING;
    }

    @Override
    public List<String> notReadyReasons() {
      return IngestService.this.notReadyReasons();
    }
  }

  /**
   * Starts a service.
   *
   * @param config the configuration
   * @return the running service, ready for requests
   * @throws Exception if a part cannot start (port taken, bad spill file, store unreachable...)
   */
  public static IngestService start(Config config) throws Exception {
    return new IngestService(config, null, UnaryOperator.identity());
  }

  /** Starts with given credentials for an external endpoint (tests, embedding). */
  static IngestService start(Config config, AwsCredentialsProvider credentials) throws Exception {
    return new IngestService(config, credentials, UnaryOperator.identity());
  }

  /**
   * Starts with the workers' store wrapped (tests: faults the real store cannot produce).
   *
   * @param credentials for an external endpoint, or null
   * @param workersStore given the real store, returns the one the workers use
   */
  static IngestService start(
      Config config, AwsCredentialsProvider credentials, UnaryOperator<ObjectStore> workersStore)
      throws Exception {
    return new IngestService(config, credentials, workersStore);
  }

  static void trace(String what, long t0) {
    if (System.getenv("MILLRACE_TRACE_START") != null) {
      System.err.println(what + " " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    }
  }

  private static String newRunId() {
    // time first so ids of later runs sort after earlier ones; then randomness against clashes
    String t = Long.toString(System.currentTimeMillis(), 36);
    String r = Long.toString(new SecureRandom().nextLong() >>> 1, 36);
    return t + r.substring(0, Math.min(4, r.length()));
  }

  private void checkStore() {
    while (!stopped) {
      boolean ok = store.reachable();
      storeReachable = ok;
      try {
        Thread.sleep(ok ? 2000 : 500);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** {@return why this node is not ready besides shutting down: queue, store, workers} */
  private List<String> notReadyReasons() {
    List<String> reasons = new ArrayList<>(2);
    String q = queue.notReadyReason();
    if (q != null) {
      reasons.add(q);
    }
    if (config.roleKind().stores() && !storeReachable) {
      reasons.add("store unreachable");
    }
    Workers w = workers;
    String dead = w == null ? null : w.notReadyReason();
    if (dead != null) {
      reasons.add(dead);
    }
    return reasons;
  }

  /** {@return the HTTP port} */
  public int port() {
    return server.port();
  }

  /** {@return the configuration} */
  public Config config() {
    return config;
  }

  /** {@return the S3 endpoint in use (the embedded one if no endpoint was configured)} */
  public URI storeEndpoint() {
    return embedded != null ? embedded.endpoint() : config.s3Endpoint();
  }

  /** {@return the embedded store, or null when an external endpoint is configured} */
  public EmbeddedS3 embeddedStore() {
    return embedded;
  }

  /** {@return how many payloads this start read back from spill files} */
  public int replayedPayloads() {
    return replayedPayloads;
  }

  /** {@return the queue (tests read its gauges)} */
  JobQueue queue() {
    return queue;
  }

  /** {@return the run id that prefixes every payload id this process assigns} */
  public String runId() {
    return runId;
  }

  /** {@return what shutdown did, or null while running} */
  public ShutdownReport report() {
    return report;
  }

  /**
   * Stops admitting, drains up to the drain timeout, spills the rest, stops everything. Safe to
   * call more than once and from a shutdown hook; later calls wait for the first.
   *
   * @return what it did
   */
  public ShutdownReport shutdown() {
    shutdownLock.lock();
    try {
      if (report != null) {
        return report;
      }
      shuttingDown.set(true);
      queue.closeAdmission();
      long t0 = System.nanoTime();
      long storedBefore = (long) metrics.payloadsStored.count();
      boolean drained =
          workers == null || workers.drain(Duration.ofMillis(config.drainTimeoutMs()));
      trace("drained", t0);
      // what is not stored is handed over: given back to JetStream for the other workers, or
      // spilled to disk by the memory queue
      Handover handover = new Handover.GivenBack(0); // an ingest node holds nothing
      if (workers != null) {
        handover = queue.source().orElseThrow().handOver(workers.formedBatches());
      }
      int spilled = handover instanceof Handover.Spilled s ? s.payloads() : 0;
      metrics.payloadsSpilled.increment(spilled);
      queue.close(); // waits for publishes in flight, so their answers go out before the server
      // stops
      long stored = (long) metrics.payloadsStored.count();
      stopped = true;
      if (healthChecker != null) {
        healthChecker.interrupt();
      }
      try {
        server.stop();
      } catch (RuntimeException e) {
        LOG.warn("stopping the HTTP server: {}", e.toString());
      }
      trace("http stopped", t0);
      if (store != null) {
        store.close();
      }
      if (embedded != null) {
        embedded.close();
      }
      LOG.info(
          "shutdown in {} ms: {} payloads stored in all ({} while draining), {}{}",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0),
          stored,
          stored - storedBefore,
          handover,
          drained ? "" : " (drain timed out)");
      report = new ShutdownReport(stored, spilled, drained);
      return report;
    } finally {
      shutdownLock.unlock();
    }
  }

  @Override
  public void close() {
    shutdown();
  }

  /** Cancels the workers at once, leaving everything admitted unstored (tests of spill/replay). */
  void stopWorkersNow() {
    if (workers != null) {
      workers.cancel();
    }
  }

  static Path spillDir(Config config) {
    return Spill.dir(config.dataDir());
  }
}
