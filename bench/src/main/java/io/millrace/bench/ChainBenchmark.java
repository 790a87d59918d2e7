package io.millrace.bench;

import com.softwaremill.jox.ChannelClosed;
import io.millrace.pipeline.Pipeline;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
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
 * A. A 3-stage chain of cheap maps over 1M boxed ints; the score is ns per element.
 *
 * <p>Same shape for every library: source, map f1, map f2, map f3 and a summing sink, each on its
 * own thread (or actor), so there are four hand-offs between threads per element, through buffers
 * of {@link Work#BUFFER} elements. What is measured is the cost of those hand-offs: the maps
 * themselves take a few ns.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(ChainBenchmark.N)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class ChainBenchmark {
  static final int N = 1_000_000;

  private List<Integer> input;
  private ActorSystem pekko;
  private Scheduler[] reactorStages;
  private Scheduler[] reactorVirtualStages;

  @Setup(Level.Trial)
  public void setUp() {
    input = Work.ints(N);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    Peers.terminate(pekko);
    Peers.dispose(reactorStages);
    Peers.dispose(reactorVirtualStages);
  }

  @Benchmark
  public long millrace() {
    return millrace(input);
  }

  @Benchmark
  public long joxChannels() throws Exception {
    return joxChannels(input, Work.BUFFER);
  }

  @Benchmark
  public long reactor() {
    if (reactorStages == null) {
      reactorStages = Peers.newSingles(4);
    }
    return reactor(input, reactorStages);
  }

  /** The same Reactor chain with each stage's single scheduler on a virtual thread. */
  @Benchmark
  public long reactorVirtualThreads() {
    if (reactorVirtualStages == null) {
      reactorVirtualStages = Peers.newVirtualSingles(4);
    }
    return reactor(input, reactorVirtualStages);
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
    long[] sum = {0};
    Pipeline.from(input)
        .map(Work::f1)
        .map(Work::f2)
        .map(Work::f3)
        .forEach(v -> sum[0] += v); // the sink runs on one thread; forEach publishes on return
    return sum[0];
  }

  /** Jox channels wired by hand: one virtual thread per stage, a buffered channel between. */
  static long joxChannels(List<Integer> input, int capacity) throws Exception {
    com.softwaremill.jox.Channel<Integer> c0 =
        com.softwaremill.jox.Channel.newBufferedChannel(capacity);
    com.softwaremill.jox.Channel<Integer> c1 =
        com.softwaremill.jox.Channel.newBufferedChannel(capacity);
    com.softwaremill.jox.Channel<Integer> c2 =
        com.softwaremill.jox.Channel.newBufferedChannel(capacity);
    com.softwaremill.jox.Channel<Integer> c3 =
        com.softwaremill.jox.Channel.newBufferedChannel(capacity);
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      threads.submit(
          () -> {
            for (Integer v : input) {
              c0.send(v);
            }
            c0.done();
            return null;
          });
      threads.submit(() -> joxStage(c0, c1, Work::f1));
      threads.submit(() -> joxStage(c1, c2, Work::f2));
      threads.submit(() -> joxStage(c2, c3, Work::f3));
      Future<Long> sink =
          threads.submit(
              () -> {
                long sum = 0;
                while (true) {
                  Object r = c3.receiveOrClosed();
                  if (r instanceof ChannelClosed) {
                    return sum;
                  }
                  sum += (Integer) r;
                }
              });
      return sink.get();
    }
  }

  private static Void joxStage(
      com.softwaremill.jox.Channel<Integer> in,
      com.softwaremill.jox.Channel<Integer> out,
      UnaryOperator<Integer> f)
      throws InterruptedException {
    while (true) {
      Object r = in.receiveOrClosed();
      if (r instanceof ChannelClosed) {
        out.done();
        return null;
      }
      @SuppressWarnings("unchecked")
      Integer v = (Integer) r;
      out.send(f.apply(v));
    }
  }

  /**
   * {@code publishOn} before every stage and before the sink: four single-thread schedulers ({@code
   * Schedulers.newSingle}, platform threads, Reactor's default; or virtual threads).
   */
  static long reactor(List<Integer> input, Scheduler[] s) {
    long[] sum = {0};
    Flux.fromIterable(input)
        .publishOn(s[0])
        .map(Work::f1)
        .publishOn(s[1])
        .map(Work::f2)
        .publishOn(s[2])
        .map(Work::f3)
        .publishOn(s[3])
        .doOnNext(v -> sum[0] += v)
        .blockLast(); // happens-after the last onNext
    return sum[0];
  }

  /** An {@code async} boundary after the source and after every map: five actors. */
  static long pekko(List<Integer> input, ActorSystem system) {
    return Source.from(input)
        .async()
        .map(Work::f1)
        .async()
        .map(Work::f2)
        .async()
        .map(Work::f3)
        .async()
        .runWith(Sink.fold(0L, (acc, v) -> acc + v), system)
        .toCompletableFuture()
        .join();
  }

  private static final Integer END = Integer.valueOf(Integer.MIN_VALUE + 12345);

  /**
   * The hand-written baseline: an {@link ArrayBlockingQueue} between threads, one put and one take
   * per element, an end marker compared by identity.
   */
  static long arrayBlockingQueue(List<Integer> input, int capacity) throws Exception {
    BlockingQueue<Integer> q0 = new ArrayBlockingQueue<>(capacity);
    BlockingQueue<Integer> q1 = new ArrayBlockingQueue<>(capacity);
    BlockingQueue<Integer> q2 = new ArrayBlockingQueue<>(capacity);
    BlockingQueue<Integer> q3 = new ArrayBlockingQueue<>(capacity);
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      threads.submit(
          () -> {
            for (Integer v : input) {
              q0.put(v);
            }
            q0.put(END);
            return null;
          });
      threads.submit(() -> queueStage(q0, q1, Work::f1));
      threads.submit(() -> queueStage(q1, q2, Work::f2));
      threads.submit(() -> queueStage(q2, q3, Work::f3));
      Future<Long> sink =
          threads.submit(
              () -> {
                long sum = 0;
                for (Integer v; (v = q3.take()) != END; ) {
                  sum += v;
                }
                return sum;
              });
      return sink.get();
    }
  }

  private static Void queueStage(
      BlockingQueue<Integer> in, BlockingQueue<Integer> out, UnaryOperator<Integer> f)
      throws InterruptedException {
    for (Integer v; (v = in.take()) != END; ) {
      out.put(f.apply(v));
    }
    out.put(END);
    return null;
  }
}
