package io.millrace.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.PipelineStats;
import io.millrace.pipeline.RunHandle;
import io.millrace.pipeline.RunListener;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.adapter.JdkFlowAdapter;
import reactor.core.publisher.Flux;

/**
 * Millrace pipelines and Reactor's {@code Flux}, joined through {@code java.util.concurrent.Flow}
 * with Reactor's own adapter ({@link JdkFlowAdapter}): both directions and a round trip, Reactor's
 * demand and cancel reaching the pipeline's run, and the pipeline's demand reaching Reactor.
 */
@Timeout(60)
class ReactorFlowInteropTest {

  private static List<Integer> range(int n) {
    return IntStream.range(0, n).boxed().toList();
  }

  @Test
  void aPipelineIsAFluxSource() {
    List<Integer> out =
        JdkFlowAdapter.flowPublisherToFlux(
                Pipeline.from(range(50_000)).mapConcurrent(8, x -> x * 2).toPublisher())
            .limitRate(100)
            .map(x -> x + 1)
            .collectList()
            .block(Duration.ofSeconds(30));
    assertEquals(range(50_000).stream().map(x -> x * 2 + 1).toList(), out);
  }

  @Test
  void aFluxTakeCancelsThePipelineRun() throws Exception {
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    AtomicLong generated = new AtomicLong();
    Pipeline<Long> endless =
        Pipeline.generate(generated::incrementAndGet)
            .map(x -> x)
            .withListener(
                new RunListener() {
                  @Override
                  public void onEnd(RunHandle<?> run, PipelineStats stats, Throwable failure) {
                    ended.complete(failure);
                  }
                });
    List<Long> first =
        JdkFlowAdapter.flowPublisherToFlux(endless.toPublisher())
            .take(10)
            .collectList()
            .block(Duration.ofSeconds(30));
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L), first);
    // the run ended (every thread of it) because Reactor cancelled
    assertInstanceOf(CancellationException.class, ended.get(10, TimeUnit.SECONDS));
  }

  @Test
  void aFluxFeedsAPipelineWithBoundedDemand() {
    Queue<Long> requests = new ConcurrentLinkedQueue<>();
    Flux<Integer> flux = Flux.range(0, 30_000).doOnRequest(requests::add);
    List<Integer> out =
        Pipeline.from(JdkFlowAdapter.publisherToFlowPublisher(flux))
            .mapConcurrent(4, x -> x * 3)
            .toList();
    assertEquals(range(30_000).stream().map(x -> x * 3).toList(), out);
    assertTrue(
        requests.stream().allMatch(n -> n >= 1 && n <= Pipeline.DEFAULT_BUFFER_CAPACITY),
        "every request within one buffer: " + requests.stream().distinct().toList());
  }

  @Test
  void aRoundTripFluxToPipelineToFluxLosesAndDuplicatesNothing() {
    Flux<Integer> source = Flux.range(0, 20_000);
    Pipeline<Integer> middle =
        Pipeline.from(JdkFlowAdapter.publisherToFlowPublisher(source))
            .mapConcurrentUnordered(8, x -> x);
    List<Integer> out =
        JdkFlowAdapter.flowPublisherToFlux(middle.toPublisher())
            .sort()
            .collectList()
            .block(Duration.ofSeconds(30));
    assertEquals(range(20_000), out);
  }
}
