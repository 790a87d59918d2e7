package io.millrace.bench;

import ch.qos.logback.classic.Level;
import io.millrace.ingest.store.S3Store;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * U3. One PUT per payload, as per-payload mode does it: how many 1 KB PUTs per second the AWS SDK
 * v2 S3 client stores into a standalone S3Proxy (filesystem backend, its own JVM) from 64 virtual
 * threads (the seed design's 64 workers), and the CPU each PUT costs the client and the store, for
 * the client as the service configures it today and for tuned variants ({@link PutVariant}).
 *
 * <p>Each variant runs in a JVM of its own (fresh JIT, its own system properties): {@code warmup}
 * seconds, then {@code seconds} measured. Reported per variant: PUTs/s, client CPU µs per PUT (its
 * process CPU time), store CPU µs per PUT, new TCP connections per PUT (the machine's {@code
 * ActiveOpens}), errors (over the whole run, warm-up included). With {@code jfr=true} each client
 * also records a JFR profile and the report says where its CPU samples fall (signing, checksums,
 * chunked encoding, HTTP, the rest).
 *
 * <pre>
 * java -cp CLASSPATH io.millrace.bench.PutHarness [seconds=10] [warmup=5] [threads=64]
 *     [size=1024] [rounds=1] [variants=today,tuned-apache,...] [jfr=true] [out=DIR]
 * </pre>
 *
 * bench/run-upload.sh builds the class path (the service's jars and Apache's HTTP client).
 */
public final class PutHarness {
  static final String ACCESS_KEY = "bench";
  static final String SECRET = "bench-secret-0123456789";
  static final String BUCKET = "bench";

  private PutHarness() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("store")) {
      store(Path.of(args[1]));
    } else if (args.length > 0 && args[0].equals("client")) {
      client(args);
    } else {
      orchestrate(options(args));
    }
  }

  private static Map<String, String> options(String[] args) {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("seconds", "10");
    o.put("warmup", "5");
    o.put("threads", "64");
    o.put("size", "1024");
    o.put("rounds", "1");
    o.put("variants", String.join(",", PutVariant.ALL.keySet()));
    o.put("jfr", "false");
    o.put("out", "bench/target/put-harness");
    for (String a : args) {
      int eq = a.indexOf('=');
      if (eq < 0 || !o.containsKey(a.substring(0, eq))) {
        throw new IllegalArgumentException("unknown argument " + a + "; accepted: " + o.keySet());
      }
      o.put(a.substring(0, eq), a.substring(eq + 1));
    }
    return o;
  }

  static void quietLogging() {
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
        .setLevel(Level.WARN);
  }

  // ------------------------------------------------------------------ the store's JVM

  private static void store(Path dir) throws Exception {
    quietLogging();
    Properties props = new Properties();
    props.setProperty("jclouds.filesystem.basedir", dir.toString());
    var blobs = BlobStores.create("filesystem", props);
    blobs.createContainer(BUCKET);
    S3Proxy proxy =
        S3Proxy.builder()
            .blobStore(blobs)
            .endpoint(URI.create("http://127.0.0.1:0"))
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET)
            .build();
    proxy.start();
    while (!"STARTED".equals(proxy.getState())) {
      Thread.sleep(5);
    }
    System.out.println("READY " + proxy.getPort() + " " + ProcessHandle.current().pid());
    System.out.flush();
    System.in.read(); // until the orchestrator closes our stdin or goes away
    proxy.stop();
  }

  // ------------------------------------------------------------------ a client's JVM

  private static void client(String[] a) throws Exception {
    quietLogging();
    PutVariant v = PutVariant.ALL.get(a[1]);
    URI endpoint = URI.create(a[2]);
    long storePid = Long.parseLong(a[3]);
    int threads = Integer.parseInt(a[4]);
    int size = Integer.parseInt(a[5]);
    int warmup = Integer.parseInt(a[6]);
    int seconds = Integer.parseInt(a[7]);
    byte[] body = new byte[size];
    Arrays.fill(body, (byte) 'x');
    body[0] = '"';
    body[size - 1] = '"';
    String run = Long.toHexString(System.nanoTime());
    AtomicLong puts = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicReference<String> firstError = new AtomicReference<>("");
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> workers = new ArrayList<>();
    S3Store store = v.store(endpoint, ACCESS_KEY, SECRET);
    try (S3Client s3 = store != null ? store.client() : v.client(endpoint, ACCESS_KEY, SECRET)) {
      for (int t = 0; t < threads; t++) {
        String base = "payloads/dt=2026-12-01/hour=20/" + run + "-" + t + "-";
        workers.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      for (long i = 0; !stop.get(); i++) {
                        String key = base + i + ".json";
                        try {
                          if (store != null) {
                            store.put(key, body, "application/json", null);
                          } else {
                            s3.putObject(
                                r -> r.bucket(BUCKET).key(key).contentType("application/json"),
                                RequestBody.fromBytes(body));
                          }
                          puts.incrementAndGet();
                        } catch (Exception e) {
                          errors.incrementAndGet();
                          firstError.compareAndSet("", e.toString());
                        }
                      }
                    }));
      }
      Thread.sleep(warmup * 1000L);
      Sample s0 = Sample.now(puts, storePid);
      Thread.sleep(seconds * 1000L);
      Sample s1 = Sample.now(puts, storePid);
      stop.set(true);
      for (Thread w : workers) {
        w.join(30_000);
      }
      double n = Math.max(1, s1.puts - s0.puts);
      System.out.printf(
          Locale.ROOT,
          "RESULT %s %.0f %.0f %.0f %.3f %d %s%n",
          v.name(),
          n / ((s1.nanos - s0.nanos) / 1e9),
          (s1.cpuNanos - s0.cpuNanos) / 1e3 / n,
          (s1.storeCpuNanos - s0.storeCpuNanos) / 1e3 / n,
          (s1.activeOpens - s0.activeOpens) / n,
          errors.get(),
          firstError.get().replace('\n', ' '));
    }
  }

  /** Counters at one moment of a client run. */
  record Sample(long nanos, long puts, long cpuNanos, long storeCpuNanos, long activeOpens) {
    static Sample now(AtomicLong puts, long storePid) throws IOException {
      var os =
          (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
      long store =
          ProcessHandle.of(storePid)
              .flatMap(p -> p.info().totalCpuDuration())
              .map(Duration::toNanos)
              .orElse(0L);
      return new Sample(System.nanoTime(), puts.get(), os.getProcessCpuTime(), store, opens());
    }

    /** {@return the machine's TCP active opens so far (connections this machine initiated)} */
    private static long opens() throws IOException {
      List<String> lines = Files.readAllLines(Path.of("/proc/net/snmp"));
      for (int i = 0; i + 1 < lines.size(); i++) {
        if (lines.get(i).startsWith("Tcp:") && lines.get(i + 1).startsWith("Tcp:")) {
          List<String> names = Arrays.asList(lines.get(i).split("\\s+"));
          return Long.parseLong(lines.get(i + 1).split("\\s+")[names.indexOf("ActiveOpens")]);
        }
      }
      return 0;
    }
  }

  // ------------------------------------------------------------------ the orchestrator

  private static void orchestrate(Map<String, String> o) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp = System.getProperty("java.class.path");
    Path out = Path.of(o.get("out")).toAbsolutePath();
    Files.createDirectories(out);
    Path data = Files.createTempDirectory("millrace-put-harness");
    boolean jfr = Boolean.parseBoolean(o.get("jfr"));
    Process store =
        new ProcessBuilder(
                java, "-Xmx1g", "-cp", cp, PutHarness.class.getName(), "store", data.toString())
            .redirectError(out.resolve("store.err").toFile())
            .start();
    List<String[]> rows = new ArrayList<>();
    Map<String, Map<String, Integer>> profiles = new LinkedHashMap<>();
    try {
      String[] ready = readLine(store, "READY", 30).split(" ");
      String endpoint = "http://127.0.0.1:" + ready[1];
      System.err.printf("store: %s (pid %s), data in %s%n", endpoint, ready[2], data);
      for (int round = 1; round <= Integer.parseInt(o.get("rounds")); round++) {
        for (String name : o.get("variants").split(",")) {
          PutVariant v = PutVariant.ALL.get(name);
          if (v == null) {
            throw new IllegalArgumentException("no variant " + name + ": " + PutVariant.ALL);
          }
          List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m"));
          cmd.addAll(v.jvmArgs());
          Path recording = out.resolve(name + "-" + round + ".jfr");
          if (jfr) {
            cmd.add("-XX:StartFlightRecording=filename=" + recording + ",settings=profile");
          }
          cmd.addAll(
              List.of(
                  "-cp",
                  cp,
                  PutHarness.class.getName(),
                  "client",
                  name,
                  endpoint,
                  ready[2],
                  o.get("threads"),
                  o.get("size"),
                  o.get("warmup"),
                  o.get("seconds")));
          Process c =
              new ProcessBuilder(cmd).redirectError(out.resolve(name + ".err").toFile()).start();
          int timeout = Integer.parseInt(o.get("warmup")) + Integer.parseInt(o.get("seconds")) + 60;
          String[] r = readLine(c, "RESULT", timeout).split(" ", 8);
          c.waitFor(60, TimeUnit.SECONDS);
          rows.add(r);
          System.err.println(String.join(" ", r));
          if (jfr && Files.exists(recording)) {
            profiles.put(name + " (round " + round + ")", JfrBreakdown.of(recording));
          }
        }
      }
    } finally {
      store.getOutputStream().close();
      if (!store.waitFor(10, TimeUnit.SECONDS)) {
        store.destroyForcibly();
      }
      deleteTree(data);
    }
    System.out.print(table(rows, o));
    for (var e : profiles.entrySet()) {
      System.out.print(JfrBreakdown.render(e.getKey(), e.getValue()));
    }
  }

  private static String table(List<String[]> rows, Map<String, String> o) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            "%n%s threads, %s-byte objects, %s s measured after %s s warm-up, per variant:%n%n",
            o.get("threads"), o.get("size"), o.get("seconds"), o.get("warmup")));
    sb.append(
        "| variant | what | PUTs/s | client CPU µs/PUT | store CPU µs/PUT | new TCP conns/PUT"
            + " | errors |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (String[] r : rows) {
      sb.append(
          String.format(
              "| %s | %s | %s | %s | %s | %s | %s |%n",
              r[1], PutVariant.ALL.get(r[1]).description(), r[2], r[3], r[4], r[5], r[6]));
    }
    for (String[] r : rows) {
      if (r.length > 7 && !r[7].isBlank()) {
        sb.append("first error of ").append(r[1]).append(": ").append(r[7]).append('\n');
      }
    }
    return sb.toString();
  }

  private static String readLine(Process p, String tag, int seconds) throws Exception {
    AtomicReference<String> line = new AtomicReference<>();
    Thread reader =
        Thread.ofVirtual()
            .start(
                () -> {
                  try (BufferedReader in =
                      new BufferedReader(
                          new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = in.readLine()) != null; ) {
                      if (l.startsWith(tag + " ")) {
                        line.set(l);
                        return;
                      }
                    }
                  } catch (IOException e) {
                    // the process went away
                  }
                });
    reader.join(Duration.ofSeconds(seconds));
    if (line.get() == null) {
      p.destroyForcibly();
      throw new IOException("no " + tag + " line within " + seconds + " s (see the .err files)");
    }
    return line.get();
  }

  private static void deleteTree(Path root) throws IOException {
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  static <K> void count(Map<K, Integer> m, K k) {
    m.merge(k, 1, Integer::sum);
  }

  static Map<String, Integer> newCounts() {
    return new HashMap<>();
  }
}
