package io.millrace.bench;

import com.softwaremill.jox.ChannelClosed;
import io.millrace.pipeline.Channel;
import io.millrace.pipeline.ChannelClosedException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * D. Channel throughput: 1M boxed ints through one channel of capacity {@link Work#BUFFER}, with
 * {@code threads} producers and as many consumers, all virtual threads (1 = SPSC, 4 = MPMC). The
 * score is ns per element. One {@code send} and one {@code receive} per element: the public API, no
 * bulk operations.
 *
 * <p>Three forks of fewer iterations, not one long fork: with two carrier threads, whether the
 * producer and the consumer of a run mostly share a carrier or mostly run on both is settled early
 * in a JVM and then holds, so one fork's score is stable but two forks can differ by 2×. The mean
 * over three forks is what the table reports.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(ChannelBenchmark.N)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(
    value = 3,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class ChannelBenchmark {
  static final int N = 1_000_000;

  /** Producers, and as many consumers. */
  @Param({"1", "4"})
  public int threads;

  private List<List<Integer>> slices;

  @Setup(Level.Trial)
  public void setUp() {
    slices = slices(Work.ints(N), threads);
  }

  @Benchmark
  public long millrace() throws Exception {
    return millrace(slices, threads, Work.BUFFER);
  }

  @Benchmark
  public long joxChannels() throws Exception {
    return joxChannels(slices, threads, Work.BUFFER);
  }

  @Benchmark
  public long arrayBlockingQueue() throws Exception {
    return arrayBlockingQueue(slices, threads, Work.BUFFER);
  }

  // ------------------------------------------------------------------ implementations

  /** The input cut into one slice per producer. */
  static List<List<Integer>> slices(List<Integer> input, int producers) {
    List<List<Integer>> out = new ArrayList<>();
    int size = input.size();
    for (int p = 0; p < producers; p++) {
      out.add(input.subList(size * p / producers, size * (p + 1) / producers));
    }
    return out;
  }

  static long millrace(List<List<Integer>> slices, int consumers, int capacity) throws Exception {
    Channel<Integer> ch = Channel.buffered(capacity);
    AtomicInteger producing = new AtomicInteger(slices.size());
    try (ExecutorService vt = Executors.newVirtualThreadPerTaskExecutor()) {
      for (List<Integer> slice : slices) {
        vt.submit(
            () -> {
              for (Integer v : slice) {
                ch.send(v);
              }
              if (producing.decrementAndGet() == 0) {
                ch.close();
              }
              return null;
            });
      }
      List<Future<Long>> sums = new ArrayList<>();
      for (int c = 0; c < consumers; c++) {
        sums.add(
            vt.submit(
                () -> {
                  long sum = 0;
                  try {
                    while (true) {
                      sum += ch.receive();
                    }
                  } catch (ChannelClosedException closedAndDrained) {
                    return sum;
                  }
                }));
      }
      return total(sums);
    }
  }

  static long joxChannels(List<List<Integer>> slices, int consumers, int capacity)
      throws Exception {
    com.softwaremill.jox.Channel<Integer> ch =
        com.softwaremill.jox.Channel.newBufferedChannel(capacity);
    AtomicInteger producing = new AtomicInteger(slices.size());
    try (ExecutorService vt = Executors.newVirtualThreadPerTaskExecutor()) {
      for (List<Integer> slice : slices) {
        vt.submit(
            () -> {
              for (Integer v : slice) {
                ch.send(v);
              }
              if (producing.decrementAndGet() == 0) {
                ch.done();
              }
              return null;
            });
      }
      List<Future<Long>> sums = new ArrayList<>();
      for (int c = 0; c < consumers; c++) {
        sums.add(
            vt.submit(
                () -> {
                  long sum = 0;
                  while (true) {
                    Object r = ch.receiveOrClosed();
                    if (r instanceof ChannelClosed) {
                      return sum;
                    }
                    sum += (Integer) r;
                  }
                }));
      }
      return total(sums);
    }
  }

  private static final Integer END = Integer.valueOf(Integer.MIN_VALUE + 12345);

  /** One end marker per consumer, put by the last producer to finish. */
  static long arrayBlockingQueue(List<List<Integer>> slices, int consumers, int capacity)
      throws Exception {
    BlockingQueue<Integer> q = new ArrayBlockingQueue<>(capacity);
    AtomicInteger producing = new AtomicInteger(slices.size());
    try (ExecutorService vt = Executors.newVirtualThreadPerTaskExecutor()) {
      for (List<Integer> slice : slices) {
        vt.submit(
            () -> {
              for (Integer v : slice) {
                q.put(v);
              }
              if (producing.decrementAndGet() == 0) {
                for (int c = 0; c < consumers; c++) {
                  q.put(END);
                }
              }
              return null;
            });
      }
      List<Future<Long>> sums = new ArrayList<>();
      for (int c = 0; c < consumers; c++) {
        sums.add(
            vt.submit(
                () -> {
                  long sum = 0;
                  for (Integer v; (v = q.take()) != END; ) {
                    sum += v;
                  }
                  return sum;
                }));
      }
      return total(sums);
    }
  }

  private static long total(List<Future<Long>> sums) throws Exception {
    long total = 0;
    for (Future<Long> f : sums) {
      total += f.get();
    }
    return total;
  }
}
