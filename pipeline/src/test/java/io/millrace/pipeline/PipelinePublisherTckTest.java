package io.millrace.pipeline;

import static org.testng.Assert.assertEquals;

import java.time.Duration;
import java.util.concurrent.Flow;
import java.util.stream.LongStream;
import org.reactivestreams.tck.TestEnvironment;
import org.reactivestreams.tck.flow.FlowPublisherVerification;
import org.testng.annotations.AfterMethod;

/**
 * The Reactive Streams TCK 1.0.4 publisher verification of {@link Pipeline#toPublisher()}, run by
 * TestNG on the JUnit Platform (testng-engine) in the default {@code mvn verify}.
 *
 * <p>The publisher under test is a pipeline with a stage between source and sink, so every element
 * crosses a buffer and threads of the run: {@code from(0..n-1) -> map -> sink}. {@code n =
 * Long.MAX_VALUE} is endless, as the TCK asks. The failed publisher is a run whose source throws at
 * once: {@code onSubscribe}, then {@code onError} with the run's {@link PipelineException}.
 *
 * <p>Every required rule passes, and so does every optional one ({@code optional_spec104}, {@code
 * 105}, {@code 111} multi-subscribe and multicast, {@code 309} message): each subscription runs the
 * pipeline afresh, so an {@code Iterable} source gives every subscriber the same sequence. The TCK
 * skips only its seven {@code untested_*} methods, for which it has no test ("not verified by this
 * TCK"): rules 1.6, 1.7 (after {@code onError}), 1.8, 1.9 (non-fatal throws), 1.10, 3.4, 3.5.
 * {@code FlowInteropTest} covers 1.8 (no signal after cancel) and 1.7 (one terminal signal).
 *
 * <p>After each TCK method every run it started is cancelled and must end, all of its threads with
 * it, within 5 s.
 */
public class PipelinePublisherTckTest extends FlowPublisherVerification<Long> {

  /** Generous for a shared 2-core machine; the no-signal wait bounds the suite's length. */
  static final TestEnvironment ENV = new TestEnvironment(2_000, 200, 20);

  private final TrackedRuns runs = new TrackedRuns();

  /** Created by TestNG. */
  public PipelinePublisherTckTest() {
    super(ENV, 1_000);
  }

  @Override
  public Flow.Publisher<Long> createFlowPublisher(long elements) {
    return Pipeline.from(() -> LongStream.range(0, elements).iterator())
        .map(x -> x)
        .withListener(runs)
        .toPublisher();
  }

  @Override
  public Flow.Publisher<Long> createFailedFlowPublisher() {
    return Pipeline.<Long>generate(
            () -> {
              throw new IllegalStateException("planned failure of the failed publisher");
            })
        .map(x -> x)
        .withListener(runs)
        .toPublisher();
  }

  @AfterMethod
  public void everyRunEndsOnceCancelled() throws InterruptedException {
    runs.cancelAllAndAwait(Duration.ofSeconds(5));
    assertEquals(runs.liveThreads(), 0);
  }
}
