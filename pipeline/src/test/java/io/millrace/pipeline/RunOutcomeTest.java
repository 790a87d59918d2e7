package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** How a run settles its outcome when failures are odd and listeners call back into the run. */
@Timeout(60)
@ExtendWith(NoLeakedRunThreads.class)
class RunOutcomeTest {

  @Test
  void aLaterFailureWhoseCausesFormACycleIsAttachedAndTheRunEnds() {
    CountDownLatch bothIn = new CountDownLatch(2);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Bounded.within(
        Duration.ofSeconds(10),
        () ->
            thrown.set(
                PipelineTest.catchThrowable(
                    () ->
                        Pipeline.from(List.of(1, 2))
                            .mapConcurrentUnordered(
                                2,
                                i -> {
                                  bothIn.countDown();
                                  bothIn.await();
                                  if (i == 1) {
                                    throw new IllegalStateException("first");
                                  }
                                  while (!Thread.currentThread().isInterrupted()) {
                                    Thread.onSpinWait(); // until the first failure stops the run
                                  }
                                  throw cyclic();
                                })
                            .toList())));
    assertThat(thrown.get()).isInstanceOf(PipelineException.class).hasMessageContaining("first");
    assertThat(thrown.get().getSuppressed()).hasSize(1);
    assertThat(thrown.get().getSuppressed()[0]).hasMessage("a");
  }

  /** a, caused by b, caused by a: {@code initCause} refuses only a cause that is the throwable. */
  private static IllegalStateException cyclic() {
    IllegalStateException a = new IllegalStateException("a");
    IllegalArgumentException b = new IllegalArgumentException("b", a);
    a.initCause(b);
    return a;
  }
}
