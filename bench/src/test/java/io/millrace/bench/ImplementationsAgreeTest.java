package io.millrace.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.actor.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import reactor.core.scheduler.Scheduler;

/**
 * Keeps the benchmarks honest without running them: every implementation of every benchmark, on a
 * small input, does the same work and produces the same checksum. Runs in the default build.
 */
@Timeout(60)
class ImplementationsAgreeTest {
  private static final int N = 20_000;
  private static final List<Integer> INPUT = Work.ints(N);

  private static ActorSystem pekko;
  private static Scheduler[] singles;
  private static Scheduler[] virtualSingles;
  private static final ExecutorService[] VT = new ExecutorService[1];
  private static Scheduler vtScheduler;

  @BeforeAll
  static void startPeers() {
    pekko = Peers.newActorSystem();
    singles = Peers.newSingles(4);
    virtualSingles = Peers.newVirtualSingles(4);
    vtScheduler = Peers.virtualThreadScheduler(VT);
  }

  @AfterAll
  static void stopPeers() {
    Peers.terminate(pekko);
    Peers.dispose(singles);
    Peers.dispose(virtualSingles);
    Peers.dispose(vtScheduler);
    VT[0].close();
  }

  @Test
  void everyChainComputesTheSameSum() throws Exception {
    long expected = Work.expectedChain(N);
    assertEquals(expected, ChainBenchmark.millrace(INPUT), "millrace");
    assertEquals(expected, ChainBenchmark.joxChannels(INPUT, Work.BUFFER), "jox");
    assertEquals(expected, ChainBenchmark.reactor(INPUT, singles), "reactor");
    assertEquals(expected, ChainBenchmark.reactor(INPUT, virtualSingles), "reactor on vthreads");
    assertEquals(expected, ChainBenchmark.pekko(INPUT, pekko), "pekko");
    assertEquals(expected, ChainBenchmark.arrayBlockingQueue(INPUT, Work.BUFFER), "abq");
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 7, 64})
  void everyIoBoundRunReturnsEveryItem(int concurrency) throws Exception {
    List<Integer> in = Work.ints(300);
    long expected = Work.expectedSum(300);
    assertEquals(expected, IoBoundBenchmark.millrace(in, concurrency, 1), "millrace");
    assertEquals(
        expected, IoBoundBenchmark.millraceUnordered(in, concurrency, 1), "millraceUnordered");
    assertEquals(expected, IoBoundBenchmark.joxChannels(in, concurrency, 1), "jox");
    assertEquals(expected, IoBoundBenchmark.reactor(in, concurrency, 1, vtScheduler), "reactor");
    try (ExecutorService vt = Executors.newVirtualThreadPerTaskExecutor()) {
      assertEquals(expected, IoBoundBenchmark.pekko(in, concurrency, 1, pekko, vt), "pekko");
    }
    assertEquals(expected, IoBoundBenchmark.executorSemaphore(in, concurrency, 1), "executor");
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 7, 64})
  void everyPartitionedRunReturnsEveryItem(int keys) throws Exception {
    List<Integer> in = Work.ints(300);
    long expected = Work.expectedSum(300);
    assertEquals(expected, PartitionedBenchmark.millrace(in, 16, keys, 1), "millrace");
    try (ExecutorService vt = Executors.newVirtualThreadPerTaskExecutor()) {
      assertEquals(
          expected, PartitionedBenchmark.pekko(in, 16, keys, 1, pekko, vt, true), "pekko ordered");
      assertEquals(
          expected,
          PartitionedBenchmark.pekko(in, 16, keys, 1, pekko, vt, false),
          "pekko unordered");
    }
  }

  @Test
  void gatherersMapConcurrentReturnsEveryItemOnJdk24AndLater() {
    assumeTrue(JdkGatherers.isAvailable(), "Gatherers need JDK 24+");
    List<Integer> in = Work.ints(300);
    assertEquals(Work.expectedSum(300), IoBoundBenchmark.gatherersMapConcurrent(in, 16, 1));
  }

  @Test
  void everyBatcherPassesEveryElement() throws Exception {
    assertEquals(N, BatchBenchmark.millrace(INPUT), "millrace");
    assertEquals(N, BatchBenchmark.reactor(INPUT, singles), "reactor");
    assertEquals(N, BatchBenchmark.pekko(INPUT, pekko), "pekko");
    assertEquals(N, BatchBenchmark.arrayBlockingQueue(INPUT, Work.BUFFER), "abq");
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 4})
  void everyChannelDeliversEveryElementOnce(int threads) throws Exception {
    List<List<Integer>> slices = ChannelBenchmark.slices(INPUT, threads);
    long expected = Work.expectedSum(N);
    assertEquals(expected, ChannelBenchmark.millrace(slices, threads, Work.BUFFER), "millrace");
    assertEquals(expected, ChannelBenchmark.joxChannels(slices, threads, Work.BUFFER), "jox");
    assertEquals(
        expected, ChannelBenchmark.arrayBlockingQueue(slices, threads, Work.BUFFER), "abq");
  }
}
