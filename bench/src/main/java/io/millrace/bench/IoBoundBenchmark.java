package io.millrace.bench;

import com.softwaremill.jox.ChannelClosed;
import io.millrace.pipeline.Pipeline;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
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
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/**
 * B. I/O-bound: 10,000 items, each call blocking for 10 ms, at most {@code concurrency} calls in
 * flight, results in input order (except {@code millraceUnordered}). The score is the wall time of
 * one whole run in ms; the ideal is items × latency / concurrency (1,000 ms at 100, 100 ms at
 * 1,000).
 *
 * <p>Every implementation blocks a virtual thread per call in flight ({@code Thread.sleep}), so the
 * work is the same; Reactor and Pekko get a virtual-thread executor to block on (Reactor's {@code
 * boundedElastic} would cap concurrency at 10 × cores).
 *
 * <p>Ten warm-up runs, then ten measured runs. Single runs at concurrency 1,000 last ~0.1 s and
 * scatter by ±10% on this machine. The warm-up is long because the JIT needs it: with three warm-up
 * runs, Millrace's first measured runs at concurrency 1,000 were still 20-40% above its steady
 * state (about eight runs of 10,000 elements to settle; the JDK's gatherer needs about three).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 10)
@Measurement(iterations = 10)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class IoBoundBenchmark {
  static final int ITEMS = 10_000;
  static final long LATENCY_MS = 10;

  @Param({"100", "1000"})
  public int concurrency;

  private List<Integer> input;
  private ActorSystem pekko;
  private ExecutorService[] reactorExecutor = new ExecutorService[1];
  private Scheduler reactorScheduler;
  private ExecutorService pekkoExecutor;

  @Setup(Level.Trial)
  public void setUp() {
    input = Work.ints(ITEMS);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    Peers.terminate(pekko);
    Peers.dispose(reactorScheduler);
    if (reactorExecutor[0] != null) {
      reactorExecutor[0].close();
    }
    if (pekkoExecutor != null) {
      pekkoExecutor.close();
    }
  }

  @Benchmark
  public long millrace() {
    return millrace(input, concurrency, LATENCY_MS);
  }

  @Benchmark
  public long millraceUnordered() {
    return millraceUnordered(input, concurrency, LATENCY_MS);
  }

  @Benchmark
  public long joxChannels() throws Exception {
    return joxChannels(input, concurrency, LATENCY_MS);
  }

  @Benchmark
  public long reactor() {
    if (reactorScheduler == null) {
      reactorScheduler = Peers.virtualThreadScheduler(reactorExecutor);
    }
    return reactor(input, concurrency, LATENCY_MS, reactorScheduler);
  }

  @Benchmark
  public long pekko() {
    if (pekko == null) {
      pekko = Peers.newActorSystem();
      pekkoExecutor = Executors.newVirtualThreadPerTaskExecutor();
    }
    return pekko(input, concurrency, LATENCY_MS, pekko, pekkoExecutor);
  }

  @Benchmark
  public long executorSemaphore() throws Exception {
    return executorSemaphore(input, concurrency, LATENCY_MS);
  }

  /** JDK 24+ only; on an older JDK this benchmark fails at once and the others go on. */
  @Benchmark
  public long gatherersMapConcurrent() {
    return gatherersMapConcurrent(input, concurrency, LATENCY_MS);
  }

  // ------------------------------------------------------------------ implementations

  static long millrace(List<Integer> input, int concurrency, long latencyMs) {
    long[] sum = {0};
    Pipeline.from(input)
        .mapConcurrent(concurrency, v -> Work.io(v, latencyMs))
        .forEach(v -> sum[0] += v);
    return sum[0];
  }

  static long millraceUnordered(List<Integer> input, int concurrency, long latencyMs) {
    long[] sum = {0};
    Pipeline.from(input)
        .mapConcurrentUnordered(concurrency, v -> Work.io(v, latencyMs))
        .forEach(v -> sum[0] += v);
    return sum[0];
  }

  /**
   * Jox channels wired by hand, the usual ordered pattern: the dispatcher takes a permit, starts a
   * virtual thread for the call and sends its future down a channel; the sink takes futures in
   * input order, waits for each and returns its permit. So calls in flight plus results waiting are
   * at most {@code concurrency}, as in Millrace and {@code Gatherers.mapConcurrent}.
   */
  static long joxChannels(List<Integer> input, int concurrency, long latencyMs) throws Exception {
    com.softwaremill.jox.Channel<CompletableFuture<Integer>> inFlight =
        com.softwaremill.jox.Channel.newBufferedChannel(concurrency);
    Semaphore permits = new Semaphore(concurrency);
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      threads.submit(
          () -> {
            for (Integer v : input) {
              permits.acquire();
              CompletableFuture<Integer> f = new CompletableFuture<>();
              threads.execute(
                  () -> {
                    try {
                      f.complete(Work.io(v, latencyMs));
                    } catch (Throwable t) {
                      f.completeExceptionally(t);
                    }
                  });
              inFlight.send(f);
            }
            inFlight.done();
            return null;
          });
      Future<Long> sink =
          threads.submit(
              () -> {
                long sum = 0;
                while (true) {
                  Object r = inFlight.receiveOrClosed();
                  if (r instanceof ChannelClosed) {
                    return sum;
                  }
                  @SuppressWarnings("unchecked")
                  CompletableFuture<Integer> f = (CompletableFuture<Integer>) r;
                  sum += f.join();
                  permits.release();
                }
              });
      return sink.get();
    }
  }

  /** {@code flatMapSequential} with {@code maxConcurrency}, each call on a virtual thread. */
  static long reactor(List<Integer> input, int concurrency, long latencyMs, Scheduler vt) {
    long[] sum = {0};
    Flux.fromIterable(input)
        .flatMapSequential(
            v -> Mono.fromCallable(() -> Work.io(v, latencyMs)).subscribeOn(vt), concurrency)
        .doOnNext(v -> sum[0] += v)
        .blockLast();
    return sum[0];
  }

  /** {@code mapAsync(concurrency)}, each call a future completed on a virtual thread. */
  static long pekko(
      List<Integer> input,
      int concurrency,
      long latencyMs,
      ActorSystem system,
      ExecutorService vt) {
    return Source.from(input)
        .mapAsync(concurrency, v -> CompletableFuture.supplyAsync(() -> Work.io(v, latencyMs), vt))
        .runWith(Sink.fold(0L, (acc, v) -> acc + v), system)
        .toCompletableFuture()
        .join();
  }

  /**
   * The plain JDK way: a virtual-thread-per-task executor, a semaphore taken before each submit and
   * returned when the call ends, futures read in input order at the end.
   */
  static long executorSemaphore(List<Integer> input, int concurrency, long latencyMs)
      throws Exception {
    Semaphore permits = new Semaphore(concurrency);
    List<Future<Integer>> futures = new ArrayList<>(input.size());
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      for (Integer v : input) {
        permits.acquire();
        futures.add(
            threads.submit(
                () -> {
                  try {
                    return Work.io(v, latencyMs);
                  } finally {
                    permits.release();
                  }
                }));
      }
      long sum = 0;
      for (Future<Integer> f : futures) {
        sum += f.get();
      }
      return sum;
    }
  }

  static long gatherersMapConcurrent(List<Integer> input, int concurrency, long latencyMs) {
    long[] sum = {0};
    JdkGatherers.<Integer, Integer>mapConcurrent(
            input.stream(), concurrency, v -> Work.io(v, latencyMs))
        .forEachOrdered(v -> sum[0] += v);
    return sum[0];
  }
}
