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

  @Test
  void onEndMayJoinTheRunItIsToldAbout() {
    AtomicReference<Throwable> joinedWith = new AtomicReference<>();
    AtomicReference<String> joined = new AtomicReference<>();
    RunListener joins =
        new RunListener() {
          @Override
          public void onEnd(RunHandle<?> run, PipelineStats finalStats, Throwable failure) {
            try {
              run.join();
              joined.set("returned");
            } catch (Throwable t) {
              joinedWith.set(t);
            }
          }
        };
    Bounded.within(
        Duration.ofSeconds(10),
        () -> {
          assertThat(Pipeline.from(List.of(1, 2, 3)).withListener(joins).toList())
              .containsExactly(1, 2, 3);
          assertThat(joined.get()).isEqualTo("returned");
          Throwable failed =
              PipelineTest.catchThrowable(
                  () ->
                      Pipeline.from(List.of(1))
                          .map(
                              i -> {
                                throw new IllegalStateException("boom");
                              })
                          .withListener(joins)
                          .toList());
          assertThat(failed).isInstanceOf(PipelineException.class);
          assertThat(joinedWith.get())
              .isInstanceOf(PipelineException.class)
              .hasMessage(failed.getMessage());
        });
  }

  @Test
  void onStartThatJoinsIsRefusedInsteadOfWaitingForever() {
    AtomicReference<Throwable> joinedWith = new AtomicReference<>();
    RunListener joins =
        new RunListener() {
          @Override
          public void onStart(RunHandle<?> run) {
            try {
              run.join();
            } catch (Throwable t) {
              joinedWith.set(t);
            }
          }
        };
    Bounded.within(
        Duration.ofSeconds(10),
        () ->
            assertThat(Pipeline.from(List.of(1, 2)).withListener(joins).toList())
                .containsExactly(1, 2));
    assertThat(joinedWith.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("onStart");
  }

  @Test
  void anErrorThrownByOnEndStillLetsTheRunEnd() {
    RunListener throwsAnError =
        new RunListener() {
          @Override
          public void onEnd(RunHandle<?> run, PipelineStats finalStats, Throwable failure) {
            throw new AssertionError("a listener's bug");
          }
        };
    Bounded.within(
        Duration.ofSeconds(10),
        () -> {
          // ended by the caller's thread (the run was over before start returned) or by one of
          // the run's (the sink is slow): either way the caller gets the run's own outcome
          assertThat(Pipeline.from(List.of(1, 2)).withListener(throwsAnError).toList())
              .containsExactly(1, 2);
          List<Integer> out = new java.util.concurrent.CopyOnWriteArrayList<>();
          Pipeline.from(List.of(1, 2))
              .withListener(throwsAnError)
              .forEach(
                  i -> {
                    Thread.sleep(20);
                    out.add(i);
                  });
          assertThat(out).containsExactly(1, 2);
        });
  }
}
