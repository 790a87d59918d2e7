package io.millrace.ingest;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.http.ServiceState;
import io.millrace.ingest.http.ServiceState.Phase;
import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.memory.Spill;
import io.millrace.ingest.store.EmbeddedS3;
import io.millrace.ingest.store.ObjectStore;
import java.net.URI;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;

/**
 * One service and its life: starting, serving, shutting down. The parts (queue, store, workers,
 * HTTP server) and the order they start and stop in are {@link ServiceParts}.
 *
 * <p>Admission opens only once every part runs: while the service starts, the probes answer and
 * {@code /v1/payloads} answers 503 {@code starting}. A shutdown may come at any time, also during
 * the start (a shutdown hook registered first, then SIGTERM): admission then closes at once and
 * never opens, the shutdown waits for the start to end and stops what it started.
 *
 * <p>Shutdown: readiness and admission answer 503 at once; the workers drain the queue up to {@code
 * MILLRACE_DRAIN_TIMEOUT_MS}; with the local log (the default), whatever is still not stored stays
 * in it and the next start replays it; with the in-memory queue, it is written to {@code
 * <dataDir>/spill/} and the next start replays it; with JetStream, it is given back to the stream
 * at once (another worker takes it). Then the HTTP server and the store stop.
 *
 * <p>Thread-safe: {@link #startUp()} and {@link #shutdown()} hold one lock; the accessors of the
 * parts are for after the start.
 */
public final class IngestService implements AutoCloseable {
  private final Config config;
  private final AwsCredentialsProvider externalCredentials; // null: the SDK's default chain
  private final UnaryOperator<ObjectStore> workersStore; // what the workers store through
  private final String runId = newRunId();
  private final Metrics metrics = new Metrics();
  private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.STARTING);

  /** Held by {@link #startUp()} for the whole start and by {@link #shutdown()}. */
  private final ReentrantLock lifecycle = new ReentrantLock();

  private volatile ServiceParts parts; // null until started; written under lifecycle
  private boolean startCalled; // guarded by lifecycle
  private volatile ShutdownReport report; // written under lifecycle

  /** What shutdown did, for logs and tests. */
  public record ShutdownReport(long stored, int spilled, boolean drained) {}

  private IngestService(
      Config config,
      AwsCredentialsProvider externalCredentials,
      UnaryOperator<ObjectStore> workersStore) {
    this.config = config;
    this.externalCredentials = externalCredentials;
    this.workersStore = workersStore;
    State state = new State();
    metrics.gauge(
        "millrace_ready",
        "1 while GET /readyz answers 200 (serving, every readiness check passes), else 0",
        () -> state.phase() == Phase.SERVING && state.notReadyReasons().isEmpty() ? 1 : 0);
  }

  /**
   * Starts a service.
   *
   * @param config the configuration
   * @return the running service, ready for requests
   * @throws Exception if a part cannot start (port taken, bad spill file, store unreachable...);
   *     the parts started before it are stopped again
   */
  public static IngestService start(Config config) throws Exception {
    return start(config, null);
  }

  /** Starts with given credentials for an external endpoint (tests, embedding). */
  static IngestService start(Config config, AwsCredentialsProvider credentials) throws Exception {
    return start(config, credentials, UnaryOperator.identity());
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
    IngestService s = new IngestService(config, credentials, workersStore);
    s.startUp();
    return s;
  }

  /**
   * {@return a service that is not started yet}: {@link #startUp()} starts it, and {@link
   * #shutdown()} may be called from any thread at any time, before and during the start too, so a
   * shutdown hook can be in place before anything is admitted.
   */
  static IngestService create(Config config) {
    return new IngestService(config, null, UnaryOperator.identity());
  }

  /**
   * Starts every part ({@link ServiceParts#start}), then opens admission. If a part fails, the ones
   * started before it are stopped and the failure is thrown. A {@link #shutdown()} called meanwhile
   * waits for this to end; admission then never opens. Blocks for the start (about a second).
   *
   * @throws Exception what stopped the start
   * @throws IllegalStateException if called twice, or after {@link #shutdown()}
   */
  void startUp() throws Exception {
    lifecycle.lock();
    try {
      if (startCalled || report != null) {
        throw new IllegalStateException("a service starts once, before its shutdown");
      }
      startCalled = true;
      parts =
          ServiceParts.start(
              config, externalCredentials, workersStore, metrics, runId, new State());
      phase.compareAndSet(Phase.STARTING, Phase.SERVING); // unless shutdown began meanwhile
    } finally {
      lifecycle.unlock();
    }
  }

  /**
   * Stops admitting, drains up to the drain timeout, hands over the rest (spilled, or given back to
   * JetStream), stops everything. Safe to call more than once, from any thread and from a shutdown
   * hook; later calls wait for the first. Called while the service starts, it closes admission at
   * once and waits for the start to end; called before {@link #startUp()}, or after a start that
   * failed (and stopped its own parts), it has nothing to stop and the service cannot start any
   * more.
   *
   * @return what it did
   */
  public ShutdownReport shutdown() {
    phase.set(Phase.SHUTTING_DOWN); // at once: admission and readiness answer 503
    lifecycle.lock(); // waits for a start in progress
    try {
      if (report == null) {
        ServiceParts p = parts;
        report = p == null ? new ShutdownReport(0, 0, true) : p.stop();
      }
      return report;
    } finally {
      lifecycle.unlock();
    }
  }

  @Override
  public void close() {
    shutdown();
  }

  /** The service's phase and readiness, as the HTTP layer reads them. */
  private final class State implements ServiceState {
    @Override
    public Phase phase() {
      return phase.get();
    }

    @Override
    public List<String> notReadyReasons() {
      ServiceParts p = parts;
      return p == null ? List.of() : p.notReadyReasons(); // while starting, the phase says it
    }

    @Override
    public List<Check> checks() {
      ServiceParts p = parts;
      return p == null ? List.of() : p.checks();
    }
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

  private ServiceParts started() {
    ServiceParts p = parts;
    if (p == null) {
      throw new IllegalStateException("not started");
    }
    return p;
  }

  /** {@return the HTTP port} */
  public int port() {
    return started().server.port();
  }

  /** {@return the configuration} */
  public Config config() {
    return config;
  }

  /** {@return the S3 endpoint in use (the embedded one if no endpoint was configured)} */
  public URI storeEndpoint() {
    EmbeddedS3 e = started().embedded;
    return e != null ? e.endpoint() : config.s3Endpoint();
  }

  /** {@return the embedded store, or null when an external endpoint is configured} */
  public EmbeddedS3 embeddedStore() {
    return started().embedded;
  }

  /** {@return how many payloads this start read back from spill files} */
  public int replayedPayloads() {
    return started().replayedPayloads;
  }

  /** {@return the queue (tests read its gauges)} */
  JobQueue queue() {
    return started().queue;
  }

  /** {@return the run id that prefixes every payload id this process assigns} */
  public String runId() {
    return runId;
  }

  /** {@return what shutdown did, or null while running} */
  public ShutdownReport report() {
    return report;
  }

  /** Cancels the workers at once, leaving everything admitted unstored (tests of spill/replay). */
  void stopWorkersNow() {
    ServiceParts p = parts;
    if (p != null && p.workers != null) {
      p.workers.cancel();
    }
  }

  static Path spillDir(Config config) {
    return Spill.dir(config.dataDir());
  }
}
