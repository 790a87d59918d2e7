package io.millrace.pipeline;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import org.reactivestreams.tck.SubscriberWhiteboxVerification.SubscriberPuppet;
import org.reactivestreams.tck.SubscriberWhiteboxVerification.WhiteboxSubscriberProbe;
import org.reactivestreams.tck.flow.FlowSubscriberWhiteboxVerification;
import org.testng.annotations.AfterMethod;

/**
 * The Reactive Streams TCK 1.0.4 whitebox subscriber verification of {@link
 * Pipeline#from(Flow.Publisher)}.
 *
 * <p>As in {@link PipelineSubscriberBlackboxTckTest}, the subscriber is the real one of a real run
 * ({@code from(capturing) -> map -> sink}). The probe is told what the run itself sees, not what a
 * wrapper saw: {@code registerOnNext} by the run's sink (so an element counts only once it went
 * through the run), {@code registerOnComplete} when the run ends normally, {@code registerOnError}
 * with the cause of the run's {@link PipelineException}. The only wrapper is for {@code
 * registerOnSubscribe}, made after the real subscriber accepted its (first) subscription.
 *
 * <p>The puppet: {@code triggerRequest(n)} does nothing, as the TCK allows for a subscriber that
 * has already requested that many: the subscriber keeps up to a buffer's worth (256) requested and
 * requests more as elements move on. {@code signalCancel()} cancels the run, whose source then
 * cancels the subscription.
 *
 * <p>Every required rule passes. Skipped by the TCK itself: its {@code untested_*} methods (rules
 * 2.2, 2.4, 2.6, 2.7, 2.11, 2.12, 2.13 on failing signals, 3.1, 3.10, 3.11, 3.14, 3.15, 3.16).
 */
public class PipelineSubscriberWhiteboxTckTest extends FlowSubscriberWhiteboxVerification<Integer> {

  private final TrackedRuns runs = new TrackedRuns();

  /** Created by TestNG. */
  public PipelineSubscriberWhiteboxTckTest() {
    super(PipelinePublisherTckTest.ENV);
  }

  @Override
  protected Flow.Subscriber<Integer> createFlowSubscriber(WhiteboxSubscriberProbe<Integer> probe) {
    RunHandle<?>[] run = new RunHandle<?>[1];
    RunListener toProbe =
        new RunListener() {
          @Override
          public void onStart(RunHandle<?> r) {
            run[0] = r;
          }

          @Override
          public void onEnd(RunHandle<?> r, PipelineStats stats, Throwable failure) {
            if (failure == null) {
              probe.registerOnComplete();
            } else if (failure instanceof PipelineException e) {
              probe.registerOnError(e.getCause());
            } else if (!(failure instanceof CancellationException)) {
              probe.registerOnError(
                  failure); // a cancel (the puppet's, the clean-up's) is no signal
            }
          }
        };
    TrackedRuns tracked = runs;
    RunListener both =
        new RunListener() {
          @Override
          public void onStart(RunHandle<?> r) {
            tracked.onStart(r);
            toProbe.onStart(r);
          }

          @Override
          public void onEnd(RunHandle<?> r, PipelineStats stats, Throwable failure) {
            toProbe.onEnd(r, stats, failure);
          }
        };
    Flow.Subscriber<Integer> real =
        PipelineSubscriberBlackboxTckTest.startRunAndCaptureItsSubscriber(
            both, probe::registerOnNext);
    RunHandle<?> handle = run[0]; // onStart ran on this thread, before start returned
    AtomicBoolean subscribed = new AtomicBoolean();
    return new Flow.Subscriber<>() {
      @Override
      public void onSubscribe(Flow.Subscription s) {
        real.onSubscribe(s);
        if (subscribed.compareAndSet(false, true)) {
          probe.registerOnSubscribe(
              new SubscriberPuppet() {
                @Override
                public void triggerRequest(long elements) {
                  // already requested: the subscriber keeps a buffer's worth requested
                }

                @Override
                public void signalCancel() {
                  handle.cancel();
                }
              });
        }
      }

      @Override
      public void onNext(Integer item) {
        real.onNext(item);
      }

      @Override
      public void onError(Throwable t) {
        real.onError(t);
      }

      @Override
      public void onComplete() {
        real.onComplete();
      }
    };
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
