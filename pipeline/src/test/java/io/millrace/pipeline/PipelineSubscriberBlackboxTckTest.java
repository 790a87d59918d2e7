package io.millrace.pipeline;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.reactivestreams.tck.flow.FlowSubscriberBlackboxVerification;
import org.testng.annotations.AfterMethod;

/**
 * The Reactive Streams TCK 1.0.4 blackbox subscriber verification of {@link
 * Pipeline#from(Flow.Publisher)}, run by TestNG on the JUnit Platform in the default {@code mvn
 * verify}.
 *
 * <p>The subscriber under test is the real one of a real run: {@link #createFlowSubscriber()}
 * starts {@code from(capturing) -> map -> sink} where {@code capturing} is a publisher whose {@code
 * subscribe} only hands over the subscriber the run's source gives it. The TCK then drives that
 * subscriber with its own publisher, so every element it sends goes through the run.
 *
 * <p>Every required rule passes. The TCK skips only its {@code untested_*} methods (rules 2.2, 2.4,
 * 2.6, 2.7, 2.8, 2.11, 2.12, 2.13 on failing signals, 3.1, 3.8, 3.10, 3.11, 3.14, 3.15, 3.16),
 * which it has no blackbox test for; the whitebox verification ({@link
 * PipelineSubscriberWhiteboxTckTest}) covers 2.8 and 3.8, and {@code FlowInteropTest} 2.6 (a run's
 * cancel cancels the subscription) and the publisher-breaks-the-spec cases. {@code
 * triggerFlowRequest} is not needed: the subscriber requests as soon as it has its subscription.
 *
 * <p>After each TCK method every run it started is cancelled and must end within 5 s (a test that
 * left its subscriber without a subscription, {@code onSubscribe(null)}, leaves a run waiting).
 */
public class PipelineSubscriberBlackboxTckTest extends FlowSubscriberBlackboxVerification<Integer> {

  private final TrackedRuns runs = new TrackedRuns();

  /** Created by TestNG. */
  public PipelineSubscriberBlackboxTckTest() {
    super(PipelinePublisherTckTest.ENV);
  }

  @Override
  public Flow.Subscriber<Integer> createFlowSubscriber() {
    return startRunAndCaptureItsSubscriber(runs, x -> {});
  }

  /**
   * Starts {@code from(capturing) -> map -> sink} and returns the subscriber its source subscribed
   * with.
   */
  @SuppressWarnings("unchecked")
  static Flow.Subscriber<Integer> startRunAndCaptureItsSubscriber(
      RunListener listener, ThrowingConsumer<Integer> sink) {
    CompletableFuture<Flow.Subscriber<? super Integer>> captured = new CompletableFuture<>();
    Flow.Publisher<Integer> capturing = captured::complete;
    Pipeline.from(capturing).map(x -> x).withListener(listener).start(sink);
    try {
      return (Flow.Subscriber<Integer>) captured.get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("the run's source did not subscribe within 5 s", e);
    }
  }

  @Override
  public Integer createElement(int element) {
    return element;
  }

  @AfterMethod
  public void everyRunEndsOnceCancelled() throws InterruptedException {
    runs.cancelAllAndAwait(Duration.ofSeconds(5));
  }
}
