package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.pipeline.NoLeakedRunThreads;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

@Timeout(30)
@ExtendWith(NoLeakedRunThreads.class)
class GracefulShutdownTest {

  @Test
  void cancelInterruptsTheSlowCallInFlightAndNothingOutlivesTheRun() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    long t0 = System.nanoTime();
    GracefulShutdown.Outcome o = GracefulShutdown.run(lines::add);
    Duration took = Duration.ofNanos(System.nanoTime() - t0);

    assertThat(NoLeakedRunThreads.liveRunThreads()).isZero();
    assertThat(o.ending())
        .isInstanceOf(CancellationException.class)
        .hasMessage("pipeline cancelled");
    assertThat(o.stillRunning()).isZero();
    assertThat(o.interrupted()).isEqualTo(1); // cancelled halfway through an item
    // 100 ms per item, cancelled at 350 ms: 3 items, give or take scheduling
    assertThat(o.processed()).isBetween(1, 4);
    assertThat(took).isLessThan(GracefulShutdown.CANCEL_AFTER.plusSeconds(1));

    List<String> processed = new ArrayList<>();
    for (int i = 1; i <= o.processed(); i++) {
      processed.add("processed item-" + i);
    }
    List<String> rest = new ArrayList<>(lines);
    rest.remove("cancelling after 350 ms"); // may come just before or after the last item
    assertThat(rest.subList(0, o.processed())).isEqualTo(processed);
    assertThat(lines.indexOf("cancelling after 350 ms")).isGreaterThanOrEqualTo(o.processed() - 1);
    assertThat(lines.subList(lines.size() - 3, lines.size()))
        .containsExactly(
            "run ended with: java.util.concurrent.CancellationException: pipeline cancelled",
            "calls interrupted in flight: 1",
            "calls still running: 0");
  }

  @Test
  void aCallThatWouldTakeAMinuteIsInterruptedSoTheRunEndsWithinASecondOfTheCancel()
      throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    long t0 = System.nanoTime();
    GracefulShutdown.Outcome o =
        GracefulShutdown.run(lines::add, Duration.ofMinutes(1), Duration.ofMillis(100));
    Duration took = Duration.ofNanos(System.nanoTime() - t0);

    assertThat(took).isLessThan(Duration.ofMillis(1100));
    assertThat(o.processed()).isZero();
    assertThat(o.interrupted()).isEqualTo(1);
    assertThat(o.stillRunning()).isZero();
    assertThat(lines)
        .containsExactly(
            "cancelling after 100 ms",
            "run ended with: java.util.concurrent.CancellationException: pipeline cancelled",
            "calls interrupted in flight: 1",
            "calls still running: 0");
  }

  @Test
  void closingTheDoneChannelStopsBothGoLoopsAndEverythingProducedIsProcessed() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    Duration perItem = Duration.ofMillis(50);
    Duration stopAfter = Duration.ofMillis(175);
    long t0 = System.nanoTime();
    GracefulShutdown.DoneOutcome o =
        GracefulShutdown.withDoneChannel(lines::add, perItem, stopAfter);
    Duration took = Duration.ofNanos(System.nanoTime() - t0);

    assertThat(o.threadsAlive()).isZero();
    // rendezvous: what the producer handed over, the worker had; it finishes what it holds
    assertThat(o.processed()).isEqualTo(o.produced()).isBetween(1, 10);
    // the worker sees done only between items, as in Go; each select after the close may still
    // take a value (both cases ready: either may win), so allow a few items past the close
    assertThat(took).isLessThan(stopAfter.plus(perItem.multipliedBy(10)).plusSeconds(1));
    assertThat(lines).contains("closing done after 175 ms");
    assertThat(lines.getLast())
        .isEqualTo(
            "done channel: produced "
                + o.produced()
                + ", processed "
                + o.processed()
                + ", loops still running: 0");
    for (int i = 1; i <= o.processed(); i++) {
      assertThat(lines).contains("worker processed item-" + i);
    }
  }
}
