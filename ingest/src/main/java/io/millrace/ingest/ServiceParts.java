package io.millrace.ingest;

import io.helidon.webserver.WebServer;
import io.millrace.ingest.IngestService.ShutdownReport;
import io.millrace.ingest.config.Config;
import io.millrace.ingest.http.HttpApi;
import io.millrace.ingest.http.ServiceState;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.Handover;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.JobSource;
import io.millrace.ingest.queue.disk.DiskJobQueue;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * The running parts of one service and the order they start and stop in. {@link #start} brings up
 * the queue (which replays spill files), the embedded store and the HTTP server (each on a thread
 * of its own, to start fast), the S3 client, the workers and the store health check; if one fails,
 * the ones before it are stopped, last first. {@link #stop} closes admission, drains, hands over
 * what is left (the local log keeps it where it is), then stops the queue, the HTTP server and the
 * store.
 *
 * <p>Which parts run depends on {@code MILLRACE_ROLE}: an ingest node has no store and no workers.
 * Immutable once started; {@link #stop} is called once, by {@link IngestService}.
 */
final class ServiceParts {
  private static final Logger LOG = LoggerFactory.getLogger(IngestService.class); // its log lines

  final Config config;
  final Metrics metrics;
  final JobQueue queue;
  final EmbeddedS3 embedded; // null unless the embedded store runs
  final S3Store store; // null on an ingest node
  final WebServer server;
  final Workers workers; // null on an ingest node
  final StoreHealth storeHealth;
  final int replayedPayloads;

  private ServiceParts(Starting s) {
    this.config = s.config;
    this.metrics = s.metrics;
    this.queue = s.queue;
    this.embedded = s.embedded;
    this.store = s.store;
    this.server = s.server;
    this.workers = s.workers;
    this.storeHealth = s.storeHealth;
    this.replayedPayloads = s.replayedPayloads;
  }

  /**
   * Starts every part this role runs.
   *
   * @param externalCredentials for an external store; null for the SDK's default chain
   * @param workersStore given the real store, returns the one the workers use (tests wrap it)
   * @param runId prefix of every id this process assigns
   * @param state what the HTTP layer asks (phase, readiness); admission waits for the phase
   * @return the running parts
   * @throws Exception what stopped the start, after the parts started before it were stopped
   */
  static ServiceParts start(
      Config config,
      AwsCredentialsProvider externalCredentials,
      UnaryOperator<ObjectStore> workersStore,
      Metrics metrics,
      String runId,
      ServiceState state)
      throws Exception {
    Starting s = new Starting(config, externalCredentials, workersStore, metrics);
    Parts parts = new Parts();
    try {
      s.run(runId, state, parts);
    } catch (Exception | Error e) {
      parts.closeAll(e);
      throw e;
    }
    ServiceParts started = new ServiceParts(s);
    readinessGauges(metrics, started);
    return started;
  }

  /** The start in progress: what is up so far. Confined to the starting thread. */
  private static final class Starting {
    final Config config;
    final AwsCredentialsProvider externalCredentials;
    final UnaryOperator<ObjectStore> workersStore;
    final Metrics metrics;
    final StoreHealth storeHealth = new StoreHealth();
    JobQueue queue;
    EmbeddedS3 embedded;
    S3Store store;
    WebServer server;
    Workers workers;
    int replayedPayloads;

    Starting(
        Config config,
        AwsCredentialsProvider externalCredentials,
        UnaryOperator<ObjectStore> workersStore,
        Metrics metrics) {
      this.config = config;
      this.externalCredentials = externalCredentials;
      this.workersStore = workersStore;
      this.metrics = metrics;
    }

    void run(String runId, ServiceState state, Parts parts) throws Exception {
      long t0 = System.nanoTime();
      Config.Role role = config.roleKind();
      Files.createDirectories(config.dataDir());
      queue =
          parts.add(
              "queue",
              switch (config.queueKind()) {
                // replays what the log holds unstored, and takes in old spill files, before
                // anything new is admitted
                case DISK -> DiskJobQueue.open(config, metrics);
                case JETSTREAM ->
                    new JetStreamJobQueue(config, metrics, runId, System::currentTimeMillis);
                // replays what the last run spilled, before anything new is admitted
                case MEMORY -> MemoryJobQueue.open(config, runId, System::currentTimeMillis);
              });
      gauges(metrics, queue);
      if (config.sharedQueue() && Spill.hasFiles(Spill.dir(config.dataDir()))) {
        LOG.warn(
            "{} holds spill files of an earlier run with MILLRACE_QUEUE=memory; they are replayed"
                + " only with MILLRACE_QUEUE=memory or disk",
            Spill.dir(config.dataDir()));
      }
      replayedPayloads = queue.source().map(JobSource::replayedPayloads).orElse(0);
      metrics.payloadsReplayed.increment(replayedPayloads);

      // the embedded store and the HTTP server start side by side, the S3 client on this thread
      boolean embeddedStore = config.embedded() && role.stores();
      String secret = EmbeddedS3.newSecret();
      int s3Port = 0;
      FutureTask<EmbeddedS3> s3proxy = null;
      if (embeddedStore) {
        s3Port = config.embeddedS3Port() != 0 ? config.embeddedS3Port() : freeLoopbackPort();
        int port = s3Port;
        // the filesystem backend's bucket is a folder: made here, it costs no request at start-up
        Files.createDirectories(EmbeddedS3.baseDir(config.dataDir()).resolve(config.bucket()));
        s3proxy =
            background(
                "millrace-start-s3",
                () -> EmbeddedS3.start(config.dataDir(), port, secret),
                EmbeddedS3::close,
                parts);
      }
      storeHealth.down(); // until the bucket answered
      HttpApi api = new HttpApi(config, queue.intake().orElse(null), metrics, state);
      FutureTask<WebServer> http =
          background("millrace-start-http", api::startServer, WebServer::stop, parts);
      if (role.stores()) {
        store = parts.add("S3 client", newStore(embeddedStore, s3Port, secret));
      }
      if (s3proxy != null) {
        embedded = join(s3proxy);
        IngestService.trace("s3proxy", t0);
      }
      server = join(http);
      IngestService.trace("http", t0);
      // an external store is checked by the health thread, at once; an ingest node has no store
      if (embeddedStore || !role.stores()) {
        storeHealth.up();
      }
      if (role.stores()) {
        Workers w =
            new Workers(
                config,
                queue.source().orElseThrow(),
                workersStore.apply(store),
                metrics,
                storeHealth::down,
                storeHealth::up);
        w.start();
        parts.stopWith("workers", w::cancel);
        workers = w;
        storeHealth.watch(store);
        parts.add("store health check", storeHealth);
      }
      // the status page's last five minutes
      parts.add(
          "status sampler",
          metrics.history.start(Duration.ofSeconds(1), System::currentTimeMillis));
    }

    private S3Store newStore(boolean embeddedStore, int s3Port, String secret) {
      S3Store.keepAliveConnections(config.maxWorkers());
      URI endpoint = embeddedStore ? URI.create("http://127.0.0.1:" + s3Port) : config.s3Endpoint();
      // auto: our own signed PUT where it is tested (S3-compatible stores, the embedded one), the
      // SDK against AWS itself, whose every variant (virtual hosts, session tokens) the SDK knows
      boolean signed =
          switch (config.s3PutClient()) {
            case "signed" -> true;
            case "sdk" -> false;
            default -> !S3Store.awsItself(endpoint);
          };
      return new S3Store(
          endpoint,
          config.s3Region(),
          config.bucket(),
          embeddedStore
              ? StaticCredentialsProvider.create(
                  AwsBasicCredentials.create(EmbeddedS3.ACCESS_KEY, secret))
              : externalCredentials != null
                  ? externalCredentials
                  : DefaultCredentialsProvider.builder().build(),
          Duration.ofMillis(config.s3TimeoutMs()),
          metrics::s3Status,
          signed ? S3Store.PutClient.SIGNED : S3Store.PutClient.SDK);
    }
  }

  private static void gauges(Metrics metrics, JobQueue queue) {
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
    metrics.gauge(
        "millrace_queue_oldest_unstored_age_seconds",
        "how long the oldest payload admitted (or pulled) and not yet stored has waited; 0 when"
            + " none, NaN when this node cannot tell",
        () -> {
          OptionalLong age = queue.oldestUnstoredAgeMillis(System.currentTimeMillis());
          return age.isPresent() ? age.getAsLong() / 1000.0 : Double.NaN;
        });
  }

  /**
   * Registers {@code millrace_ready_check{check}}: 1 while a part's readiness check passes, 0 while
   * it fails; one series per check this role runs.
   */
  private static void readinessGauges(Metrics metrics, ServiceParts parts) {
    for (ServiceState.Check c : parts.checks()) {
      String name = c.name();
      metrics.gauge(
          "millrace_ready_check",
          "1 while this readiness check passes, 0 while it fails (GET /readyz says why)",
          () -> {
            for (ServiceState.Check now : parts.checks()) {
              if (now.name().equals(name)) {
                return now.ok() ? 1 : 0;
              }
            }
            return Double.NaN;
          },
          "check",
          name);
    }
  }

  /**
   * Starts a part on a platform thread of its own and records it: stopping it waits for its start
   * to end, then closes what started.
   */
  private static <T> FutureTask<T> background(
      String thread, Callable<T> start, Consumer<T> stop, Parts parts) {
    FutureTask<T> task = new FutureTask<>(start);
    Thread.ofPlatform().name(thread).start(task);
    parts.stopWith(
        thread.substring("millrace-start-".length()),
        () -> {
          T part;
          try {
            part = join(task);
          } catch (Exception failedToStart) {
            return; // nothing to stop; its failure is the start's (or came after it)
          }
          stop.accept(part);
        });
    return task;
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

  /** {@return why this node is not ready besides its phase: queue, store, workers} */
  List<String> notReadyReasons() {
    List<String> reasons = new ArrayList<>(2);
    for (ServiceState.Check c : checks()) {
      if (!c.ok()) {
        reasons.add(c.failure());
      }
    }
    return reasons;
  }

  /**
   * {@return the readiness checks of the parts this role runs: the queue's, and on a node that
   * stores, the store's and the workers'}
   */
  List<ServiceState.Check> checks() {
    List<ServiceState.Check> checks = new ArrayList<>(3);
    checks.add(new ServiceState.Check("queue", queue.notReadyReason()));
    if (store != null) {
      checks.add(
          new ServiceState.Check("store", storeHealth.reachable() ? null : "store unreachable"));
    }
    if (workers != null) {
      checks.add(new ServiceState.Check("workers", workers.notReadyReason()));
    }
    return checks;
  }

  /**
   * Closes admission, drains up to the drain timeout, hands over what is not stored (spilled, or
   * given back to JetStream), then stops the queue, the HTTP server and the store. Call once.
   *
   * @return what it did
   */
  ShutdownReport stop() {
    queue.closeAdmission();
    long t0 = System.nanoTime();
    long storedBefore = (long) metrics.payloadsStored.count();
    boolean drained = workers == null || workers.drain(Duration.ofMillis(config.drainTimeoutMs()));
    IngestService.trace("drained", t0);
    // what is not stored is handed over: given back to JetStream for the other workers, spilled
    // to disk by the memory queue, or left where it is by the local log
    Handover handover = new Handover.GivenBack(0); // an ingest node holds nothing
    if (workers != null) {
      handover = queue.source().orElseThrow().handOver(workers.formedBatches());
    }
    int spilled = handover instanceof Handover.Spilled s ? s.payloads() : 0;
    metrics.payloadsSpilled.increment(spilled);
    queue.close(); // waits for publishes in flight, so their answers go out before the server stops
    long stored = (long) metrics.payloadsStored.count();
    storeHealth.close();
    metrics.history.close();
    try {
      server.stop();
    } catch (RuntimeException e) {
      LOG.warn("stopping the HTTP server: {}", e.toString());
    }
    IngestService.trace("http stopped", t0);
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
    return new ShutdownReport(stored, spilled, drained);
  }
}
