package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A stream source is lazy: describing a pipeline leaves the stream untouched, the run that starts
 * takes its iterator, and the stream is closed when that run ends, however it ends.
 */
@Timeout(60)
@ExtendWith(NoLeakedRunThreads.class)
class StreamSourceTest {

  /** A stream over 0..n-1 that opens its source only when iterated, and counts opens and closes. */
  static final class Resource {
    final AtomicInteger opened = new AtomicInteger();
    final AtomicInteger closed = new AtomicInteger();

    Stream<Integer> stream(int n) {
      return StreamSupport.stream(
              () -> {
                opened.incrementAndGet();
                return Spliterators.spliterator(
                    Stream.iterate(0, i -> i + 1).limit(n).iterator(), n, Spliterator.ORDERED);
              },
              Spliterator.ORDERED,
              false)
          .onClose(closed::incrementAndGet);
    }
  }

  @Test
  void describingAPipelineLeavesTheStreamUntouched() {
    Resource r = new Resource();
    Stream<Integer> s = r.stream(3);
    Pipeline<Integer> p = Pipeline.from(s).map(i -> i + 1);
    assertThat(p.toString()).isNotEmpty();
    assertThat(r.opened).as("opened by describing").hasValue(0);
    assertThat(p.toList()).containsExactly(1, 2, 3);
    assertThat(r.opened).hasValue(1);
    assertThat(r.closed).hasValue(1);
  }

  @Test
  void aPipelineThatNeverRunsLeavesTheStreamToItsCaller() {
    Resource r = new Resource();
    Stream<Integer> s = r.stream(2);
    Pipeline.from(s).map(i -> i * 2);
    assertThat(s.toList()).containsExactly(0, 1); // still the caller's to use
    s.close();
    assertThat(r.closed).hasValue(1);
  }

  @Test
  void theStreamIsClosedWhenTheRunFails() {
    Resource r = new Resource();
    assertThatThrownBy(
            () ->
                Pipeline.from(r.stream(1000))
                    .forEach(
                        i -> {
                          throw new IllegalStateException("sink fails");
                        }))
        .isInstanceOf(PipelineException.class);
    assertThat(r.closed).hasValue(1);
  }

  @Test
  void theStreamIsClosedWhenTheRunIsCancelledMidway() throws Exception {
    Resource r = new Resource();
    RunHandle<Integer> h = Pipeline.from(r.stream(Integer.MAX_VALUE)).start(i -> Thread.sleep(1));
    Thread.sleep(20);
    h.cancel();
    assertThatThrownBy(h::join).isInstanceOf(CancellationException.class);
    assertThat(r.closed).hasValue(1);
  }

  @Test
  void theStreamIsClosedWhenTheRunIsCancelledBeforeTheSourceRan() {
    Resource r = new Resource();
    RunListener cancelsAtOnce =
        new RunListener() {
          @Override
          public void onStart(RunHandle<?> run) {
            run.cancel();
          }
        };
    Bounded.within(
        Duration.ofSeconds(10),
        () ->
            assertThatThrownBy(
                    () -> Pipeline.from(r.stream(10)).withListener(cancelsAtOnce).toList())
                .isInstanceOf(CancellationException.class));
    assertThat(r.opened).as("opened").hasValue(0);
    assertThat(r.closed).as("closed").hasValue(1);
  }

  @Test
  void theStreamIsClosedWhenTheRunTimesOut() {
    Resource r = new Resource();
    assertThatThrownBy(
            () ->
                Pipeline.from(r.stream(Integer.MAX_VALUE))
                    .withTimeout(Duration.ofMillis(50))
                    .forEach(i -> Thread.sleep(1)))
        .isInstanceOf(CancellationException.class)
        .hasMessageContaining("timed out");
    assertThat(r.closed).hasValue(1);
  }

  @Test
  void aStreamPipelineRunsOnceAndASecondRunFailsAtStart() {
    Resource r = new Resource();
    Pipeline<Integer> p = Pipeline.from(r.stream(2));
    assertThat(p.toList()).containsExactly(0, 1);
    assertThatThrownBy(p::toList)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("only once");
    assertThat(List.of(r.opened.get(), r.closed.get())).containsExactly(1, 1);
  }

  @Test
  void aStreamDescribedTwiceBacksOnlyTheFirstRun() {
    Resource r = new Resource();
    Stream<Integer> s = r.stream(2);
    Pipeline<Integer> first = Pipeline.from(s);
    Pipeline<Integer> second = Pipeline.from(s); // lazy: describing does not touch the stream
    assertThat(first.toList()).containsExactly(0, 1);
    assertThatThrownBy(second::toList)
        .isInstanceOf(PipelineException.class)
        .hasRootCauseInstanceOf(IllegalStateException.class);
    assertThat(r.opened).hasValue(1);
  }
}
