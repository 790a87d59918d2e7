package io.millrace.bench.log;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * The durable-log workload of the ingest service, on one backend per run (one JVM each): {@code
 * appenders} virtual threads append requests of 10 payloads of ~110 bytes (~1.1 KB), each durable
 * before it returns; one consumer reads in order and deletes what it read, in batches of up to
 * 1,000 payloads. After {@code warmup} seconds the counters are reset, then {@code seconds} are
 * measured. Prints one line: requests/s, flushes/s, requests per flush, append latency percentiles,
 * the consumer's lag at the end, CPU per request.
 *
 * <pre>
 *   java -cp ... io.millrace.bench.log.LogBench BACKEND DIR [appenders=64] [warmup=5] [seconds=15]
 *       [virtual|platform]
 * </pre>
 *
 * <p>Appenders are virtual threads by default, as the service's request handlers are; {@code
 * platform} runs them as platform threads instead (for a store that blocks inside native calls).
 */
public final class LogBench {
  private LogBench() {}

  public static void main(String[] args) throws Exception {
    String name = args[0];
    Path dir = Path.of(args[1]);
    int appenders = args.length > 2 ? Integer.parseInt(args[2]) : 64;
    int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 5;
    int seconds = args.length > 4 ? Integer.parseInt(args[4]) : 15;
    boolean platform = args.length > 5 && args[5].equals("platform");
    delete(dir);
    Files.createDirectories(dir);
    List<List<byte[]>> requests = requests(4096);
    Histogram latency = new Histogram();
    AtomicLong appended = new AtomicLong();
    AtomicLong consumed = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    try (Backend backend = Backend.open(name, dir)) {
      CountDownLatch done = new CountDownLatch(appenders + 1);
      for (int t = 0; t < appenders; t++) {
        int seed = t;
        (platform ? Thread.ofPlatform() : Thread.ofVirtual())
            .start(
                () -> {
                  try {
                    for (int i = seed; !stop.get(); i += 7) {
                      long t0 = System.nanoTime();
                      backend.append(requests.get(i & 4095));
                      latency.record(System.nanoTime() - t0);
                      appended.incrementAndGet();
                    }
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    stop.set(true);
                  } finally {
                    done.countDown();
                  }
                });
      }
      Thread.ofPlatform()
          .name("consumer")
          .start(
              () -> {
                try {
                  while (!stop.get()) {
                    int n = backend.consume(1000);
                    consumed.addAndGet(n);
                    if (n == 0) {
                      Thread.sleep(1);
                    }
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                  stop.set(true);
                } finally {
                  done.countDown();
                }
              });
      Thread.sleep(warmup * 1000L);
      latency.reset();
      long a0 = appended.get();
      long c0 = consumed.get();
      long f0 = backend.flushes();
      long cpu0 = cpuNanos();
      long t0 = System.nanoTime();
      Thread.sleep(seconds * 1000L);
      double elapsed = (System.nanoTime() - t0) / 1e9;
      long requestsDone = appended.get() - a0;
      long payloadsConsumed = consumed.get() - c0;
      long flushes = backend.flushes() - f0;
      long cpu = cpuNanos() - cpu0;
      long lag = appended.get() * 10 - consumed.get();
      stop.set(true);
      done.await();
      if (failure.get() != null) {
        throw new IllegalStateException(name + " failed", failure.get());
      }
      System.out.printf(
          "%-11s req/s %8.0f  consumed payloads/s %8.0f  flushes/s %6.0f  req/flush %6.1f"
              + "  p50 %6.2f ms  p99 %6.2f ms  p99.9 %6.2f ms  max %7.2f ms  lag %7d payloads"
              + "  CPU %5.1f us/req  disk %6.1f MB%n",
          name + (platform ? "/p" : ""),
          requestsDone / elapsed,
          payloadsConsumed / elapsed,
          flushes / elapsed,
          flushes == 0 ? 0.0 : (double) requestsDone / flushes,
          latency.percentile(50) / 1e6,
          latency.percentile(99) / 1e6,
          latency.percentile(99.9) / 1e6,
          latency.max() / 1e6,
          lag,
          requestsDone == 0 ? 0.0 : cpu / 1e3 / requestsDone,
          diskBytes(dir) / 1e6);
    }
    delete(dir);
  }

  /** Requests of 10 JSON payloads of ~110 bytes, each unique, like the HTTP workload. */
  static List<List<byte[]>> requests(int n) {
    Random random = new Random(42);
    List<List<byte[]>> out = new ArrayList<>(n);
    for (int r = 0; r < n; r++) {
      List<byte[]> payloads = new ArrayList<>(10);
      for (int i = 0; i < 10; i++) {
        String s =
            String.format(
                "{\"id\":\"%08x-%02d\",\"type\":\"click\",\"user\":%d,\"value\":%.4f,\"tag\":\"%s\"}",
                r,
                i,
                random.nextInt(1_000_000),
                random.nextDouble(),
                Long.toHexString(random.nextLong()) + Long.toHexString(random.nextLong()));
        payloads.add(s.getBytes(StandardCharsets.UTF_8));
      }
      out.add(payloads);
    }
    return out;
  }

  private static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static long diskBytes(Path dir) throws Exception {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  private static void delete(Path dir) throws Exception {
    if (Files.exists(dir)) {
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    }
  }
}
