package io.millrace.ingest.testing;

import io.millrace.ingest.store.EmbeddedS3;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The multi-process set-up of the JetStream tests: a private nats-server, one embedded S3 store in
 * the test JVM (bucket "millrace" created), and service processes of any role started against both.
 * Closing it kills what still runs.
 */
public final class JetStreamRig implements AutoCloseable {
  public static final String BUCKET = "millrace";
  public static final String STREAM = "MILLRACE";
  public static final String DEAD_STREAM = "MILLRACE_DEAD";
  public static final String CONSUMER = "millrace-workers";

  public final Path dir;

  /** The broker, or the first server of the cluster (the tests look into JetStream through it). */
  public final NatsServerProcess nats;

  /** Every server: one, or the cluster's three. */
  public final List<NatsServerProcess> servers;

  public final EmbeddedS3 s3;
  private final Map<String, String> extraEnv;
  private final List<ServiceProcess> processes = new CopyOnWriteArrayList<>();
  private final AtomicInteger seq = new AtomicInteger();

  private JetStreamRig(
      Path dir, List<NatsServerProcess> servers, EmbeddedS3 s3, Map<String, String> extraEnv) {
    this.dir = dir;
    this.servers = List.copyOf(servers);
    this.nats = servers.getFirst();
    this.s3 = s3;
    this.extraEnv = Map.copyOf(extraEnv);
  }

  /**
   * Starts the broker and the store.
   *
   * @param dir the test's temporary folder
   * @param extraEnv variables every service process gets on top of the defaults here
   * @return the rig, no service process running yet
   * @throws Exception if the broker or the store does not start
   */
  public static JetStreamRig start(Path dir, Map<String, String> extraEnv) throws Exception {
    return start(dir, List.of(NatsServerProcess.start(dir.resolve("nats"))), extraEnv);
  }

  /**
   * Starts a 3-server JetStream cluster and the store; every service process gets all three URLs
   * and {@code MILLRACE_NATS_REPLICAS=3}.
   *
   * @param dir the test's temporary folder
   * @param extraEnv variables every service process gets on top of the defaults here
   * @return the rig, no service process running yet
   * @throws Exception if a server or the store does not start
   */
  public static JetStreamRig startCluster(Path dir, Map<String, String> extraEnv) throws Exception {
    Map<String, String> env = new HashMap<>(extraEnv);
    env.putIfAbsent("MILLRACE_NATS_REPLICAS", "3");
    return start(dir, NatsServerProcess.startCluster(dir.resolve("nats"), 3), env);
  }

  private static JetStreamRig start(
      Path dir, List<NatsServerProcess> servers, Map<String, String> extraEnv) throws Exception {
    EmbeddedS3 s3;
    try {
      s3 = EmbeddedS3.start(dir.resolve("s3"), 0);
      try (S3Client c = TestSupport.client(s3)) {
        c.createBucket(b -> b.bucket(BUCKET));
      }
    } catch (Exception | Error e) {
      for (NatsServerProcess n : servers) {
        n.close();
      }
      throw e;
    }
    return new JetStreamRig(dir, servers, s3, extraEnv);
  }

  /** {@return the environment of a service process of this role} */
  public Map<String, String> env(String role, String name) {
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_HOST", "127.0.0.1");
    env.put("MILLRACE_PORT", "0");
    env.put("MILLRACE_DATA_DIR", dir.resolve("data-" + name).toString());
    env.put(
        "MILLRACE_QUEUE", String.join(",", servers.stream().map(NatsServerProcess::url).toList()));
    env.put("MILLRACE_ROLE", role);
    env.put("MILLRACE_BATCH_MAX_AGE_MS", "100");
    env.put("MILLRACE_DRAIN_TIMEOUT_MS", "5000");
    if (!role.equals("ingest")) {
      env.put("MILLRACE_S3_ENDPOINT", s3.endpoint().toString());
      env.put("MILLRACE_S3_TIMEOUT_MS", "5000");
      env.put("AWS_ACCESS_KEY_ID", EmbeddedS3.ACCESS_KEY);
      env.put("AWS_SECRET_ACCESS_KEY", s3.secretKey());
      env.put("AWS_REGION", "us-east-1");
    }
    env.putAll(extraEnv);
    return env;
  }

  /** Starts one service process of this role (ingest, worker or all) and waits until it listens. */
  public ServiceProcess startService(String role) throws Exception {
    String name = role + "-" + seq.incrementAndGet();
    ServiceProcess p = ServiceProcess.start(name, dir.resolve("logs"), env(role, name));
    processes.add(p);
    return p;
  }

  /** Starts service processes of these roles at the same time; returns them in the same order. */
  public List<ServiceProcess> startServices(String... roles) throws Exception {
    try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<ServiceProcess>> fs = new ArrayList<>();
      for (String role : roles) {
        fs.add(ex.submit((Callable<ServiceProcess>) () -> startService(role)));
      }
      List<ServiceProcess> out = new ArrayList<>();
      for (Future<ServiceProcess> f : fs) {
        try {
          out.add(f.get());
        } catch (ExecutionException e) {
          if (e.getCause() instanceof AssertionError a) {
            throw a;
          }
          throw e;
        }
      }
      return out;
    }
  }

  /** {@return the broker's view of the work stream and the workers' consumer} */
  public NatsServerProcess.QueueState queueState() throws Exception {
    return nats.queueState(STREAM, CONSUMER);
  }

  /**
   * Waits until the work stream is empty: every message was acknowledged (stored) or dead-lettered.
   *
   * @param timeout at most this long
   */
  public void awaitQueueEmpty(Duration timeout) {
    Awaitility.await("the work stream becomes empty")
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(() -> queueState().empty());
  }

  /**
   * {@return the ids in every dead-lettered message} Asks again for up to a minute while the broker
   * does not answer: after a server of a cluster was killed and restarted, the dead-letter stream
   * may still be electing its leader.
   */
  public List<String> deadLetteredIds() throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      try {
        List<String> ids = new ArrayList<>();
        for (byte[] m : nats.messages(DEAD_STREAM)) {
          ids.addAll(StoredIds.idsIn(m));
        }
        return ids;
      } catch (java.io.IOException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(500);
      }
    }
  }

  /** {@return every payload id in the store, counted} */
  public StoredIds readBack() throws Exception {
    try (S3Client c = TestSupport.client(s3)) {
      return StoredIds.read(c, BUCKET);
    }
  }

  /** Prints the tail of every process's output and the broker's log, for a failed test. */
  public void dumpLogs() {
    for (ServiceProcess p : processes) {
      System.out.println(tail(p.logs(), 6000));
    }
    for (NatsServerProcess n : servers) {
      System.out.println("--- nats-server log:\n" + tail(n.log(), 4000));
    }
  }

  private static String tail(String s, int n) {
    return s.length() <= n ? s : "..." + s.substring(s.length() - n);
  }

  @Override
  public void close() throws Exception {
    for (ServiceProcess p : processes) {
      p.close();
    }
    try {
      s3.close();
    } finally {
      for (NatsServerProcess n : servers) {
        n.close();
      }
    }
  }
}
