package io.millrace.bench;

import io.millrace.pipeline.Pipeline;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * F. Per-key ordered concurrency on benchmark B's I/O-bound workload: 5,000 items, each call
 * blocking 10 ms, at most 100 calls in flight and at most one per key, the key of item {@code i}
 * being {@code i % keys}. With 1,000 keys the key rule never binds (ideal 500 ms, as B at 100);
 * with 50 keys it does: at most 50 calls can run (ideal 1,000 ms). Score: wall time of one run.
 *
 * <p>Millrace {@code mapConcurrentPartitioned} keeps the order within a key only; Pekko's {@code
 * mapAsyncPartitioned} keeps the whole input order, and its {@code mapAsyncPartitionedUnordered}
 * the order within a key only, like Millrace. Pekko's calls are futures completed on a
 * virtual-thread executor, as in B.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 5)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class PartitionedBenchmark {
  static final int ITEMS = 5_000;
  static final int CONCURRENCY = 100;
  static final long LATENCY_MS = 10;

  @Param({"1000", "50"})
  public int keys;

  private List<Integer> input;
  private ActorSystem pekko;
  private ExecutorService pekkoExecutor;

  @Setup(Level.Trial)
  public void setUp() {
    input = Work.ints(ITEMS);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    Peers.terminate(pekko);
    if (pekkoExecutor != null) {
      pekkoExecutor.close();
    }
  }

  private void pekkoUp() {
    if (pekko == null) {
      pekko = Peers.newActorSystem();
      pekkoExecutor = Executors.newVirtualThreadPerTaskExecutor();
    }
  }

  @Benchmark
  public long millrace() {
    return millrace(input, CONCURRENCY, keys, LATENCY_MS);
  }

  @Benchmark
  public long pekkoOrdered() {
    pekkoUp();
    return pekko(input, CONCURRENCY, keys, LATENCY_MS, pekko, pekkoExecutor, true);
  }

  @Benchmark
  public long pekkoUnordered() {
    pekkoUp();
    return pekko(input, CONCURRENCY, keys, LATENCY_MS, pekko, pekkoExecutor, false);
  }

  static long millrace(List<Integer> input, int concurrency, int keys, long latencyMs) {
    return Pipeline.from(input)
        .mapConcurrentPartitioned(concurrency, v -> v % keys, v -> Work.io(v, latencyMs))
        .fold(0L, (acc, v) -> acc + v);
  }

  static long pekko(
      List<Integer> input,
      int concurrency,
      int keys,
      long latencyMs,
      ActorSystem system,
      ExecutorService vt,
      boolean ordered) {
    Source<Integer, ?> src = Source.from(input);
    Source<Integer, ?> mapped =
        ordered
            ? src.mapAsyncPartitioned(
                concurrency,
                v -> v % keys,
                (v, k) -> CompletableFuture.supplyAsync(() -> Work.io(v, latencyMs), vt))
            : src.mapAsyncPartitionedUnordered(
                concurrency,
                v -> v % keys,
                (v, k) -> CompletableFuture.supplyAsync(() -> Work.io(v, latencyMs), vt));
    return mapped.runWith(Sink.fold(0L, (acc, v) -> acc + v), system).toCompletableFuture().join();
  }
}
