package io.millrace.bench;

import io.millrace.pipeline.Pipeline;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;

/**
 * C. {@code batch(1000, 50 ms)} over 1M boxed ints from a fast source; the score is ns per element.
 *
 * <p>Same shape for every library: source, batcher and sink each on its own thread (two hand-offs).
 * The source never pauses, so batches are cut by size; the 50 ms timer is armed for every batch but
 * never fires. The sink adds up the batch sizes (the checksum is N).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(BatchBenchmark.N)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class BatchBenchmark {
  static final int N = 1_000_000;
  static final int MAX_SIZE = 1000;
  static final Duration MAX_WAIT = Duration.ofMillis(50);

  private List<Integer> input;
  private ActorSystem pekko;
  private Scheduler[] reactorStages;

  @Setup(Level.Trial)
  public void setUp() {
    input = Work.ints(N);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    Peers.terminate(pekko);
    Peers.dispose(reactorStages);
  }

  @Benchmark
  public long millrace() {
    return millrace(input);
  }

  @Benchmark
  public long reactor() {
    if (reactorStages == null) {
      reactorStages = Peers.newSingles(2);
    }
    return reactor(input, reactorStages);
  }

  @Benchmark
  public long pekko() {
    if (pekko == null) {
      pekko = Peers.newActorSystem();
    }
    return pekko(input, pekko);
  }

  @Benchmark
  public long arrayBlockingQueue() throws Exception {
    return arrayBlockingQueue(input, Work.BUFFER);
  }

  // ------------------------------------------------------------------ implementations

  static long millrace(List<Integer> input) {
    long[] n = {0};
    Pipeline.from(input).batch(MAX_SIZE, MAX_WAIT).forEach(b -> n[0] += b.size());
    return n[0];
  }

  /**
   * {@code bufferTimeout(1000, 50 ms, fairBackpressure = true)} between two {@code publishOn}s.
   * Without fair back-pressure, Reactor fails the run with "Could not emit buffer due to lack of
   * requests" whenever the timer fires while the sink is behind (seen here under load).
   */
  static long reactor(List<Integer> input, Scheduler[] s) {
    long[] n = {0};
    Flux.fromIterable(input)
        .publishOn(s[0])
        .bufferTimeout(MAX_SIZE, MAX_WAIT, true)
        .publishOn(s[1])
        .doOnNext(b -> n[0] += b.size())
        .blockLast();
    return n[0];
  }

  /** {@code groupedWithin(1000, 50 ms)} between two {@code async} boundaries. */
  static long pekko(List<Integer> input, ActorSystem system) {
    return Source.from(input)
        .async()
        .groupedWithin(MAX_SIZE, MAX_WAIT)
        .async()
        .runWith(Sink.fold(0L, (acc, b) -> acc + b.size()), system)
        .toCompletableFuture()
        .join();
  }

  private static final Integer END = Integer.valueOf(Integer.MIN_VALUE + 12345);
  private static final List<Integer> END_BATCH = List.of();

  /**
   * Hand-written: the batcher takes the first element, then drains what is queued ({@code drainTo})
   * and polls with the time left until the batch is full or 50 ms have passed.
   */
  static long arrayBlockingQueue(List<Integer> input, int capacity) throws Exception {
    BlockingQueue<Integer> elements = new ArrayBlockingQueue<>(capacity);
    BlockingQueue<List<Integer>> batches = new ArrayBlockingQueue<>(capacity);
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      threads.submit(
          () -> {
            for (Integer v : input) {
              elements.put(v);
            }
            elements.put(END);
            return null;
          });
      threads.submit(() -> queueBatcher(elements, batches));
      Future<Long> sink =
          threads.submit(
              () -> {
                long n = 0;
                for (List<Integer> b; (b = batches.take()) != END_BATCH; ) {
                  n += b.size();
                }
                return n;
              });
      return sink.get();
    }
  }

  private static Void queueBatcher(BlockingQueue<Integer> in, BlockingQueue<List<Integer>> out)
      throws InterruptedException {
    boolean ended = false;
    while (!ended) {
      Integer first = in.take();
      if (first == END) {
        break;
      }
      List<Integer> batch = new ArrayList<>(MAX_SIZE);
      batch.add(first);
      long deadline = System.nanoTime() + MAX_WAIT.toNanos();
      while (batch.size() < MAX_SIZE) {
        int from = batch.size();
        in.drainTo(batch, MAX_SIZE - batch.size());
        if (batch.size() > from && batch.get(batch.size() - 1) == END) {
          batch.remove(batch.size() - 1);
          ended = true;
          break;
        }
        if (batch.size() == from) {
          long left = deadline - System.nanoTime();
          Integer v = left > 0 ? in.poll(left, TimeUnit.NANOSECONDS) : null;
          if (v == null) {
            break;
          }
          if (v == END) {
            ended = true;
            break;
          }
          batch.add(v);
        }
      }
      if (!batch.isEmpty()) {
        out.put(batch);
      }
    }
    out.put(END_BATCH);
    return null;
  }
}
