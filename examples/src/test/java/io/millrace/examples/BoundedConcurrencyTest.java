package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.pipeline.LiveRunThreads;
import io.millrace.pipeline.NoLeakedRunThreads;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

@Timeout(30)
@ExtendWith(NoLeakedRunThreads.class)
class BoundedConcurrencyTest {

  @Test
  void atMostThreeCallsRunAtOnceAndResultsKeepInputOrder() {
    List<String> lines = new CopyOnWriteArrayList<>();
    BoundedConcurrency.Outcome o = BoundedConcurrency.run(lines::add);

    List<Integer> squares = IntStream.rangeClosed(1, 12).map(i -> i * i).boxed().toList();
    assertThat(o.results()).isEqualTo(squares);
    assertThat(o.maxInFlight()).isLessThanOrEqualTo(3);
    assertThat(o.maxInFlight()).isEqualTo(3); // 100 ms calls: the limit is reached
    assertThat(o.callThreads()).isEqualTo(3); // 100 ms calls: the limit is reached
    // more than 3 at once would let 12 calls of 100 ms finish in under 400 ms
    assertThat(o.elapsed()).isGreaterThanOrEqualTo(Duration.ofMillis(400));
    assertThat(o.floor()).isEqualTo(Duration.ofMillis(400));
    assertThat(lines)
        .containsExactly(
            "12 items, mapConcurrent(3, ...), 100 ms each",
            "results, in input order: " + squares,
            "most calls in flight at once: 3 (limit 3)",
            "calls ran on 3 worker virtual threads (at most 3, each takes the next item)",
            "took at least 400 ms, the floor the limit sets (ceil(12 / 3) x 100 ms)");
  }

  @Test
  void noMoreCallThreadsThanTheLimit() {
    AtomicInteger maxThreads = new AtomicInteger();
    LiveRunThreads live = new LiveRunThreads();
    int limit = 4;
    BoundedConcurrency.Outcome o =
        BoundedConcurrency.run(
            line -> {},
            200,
            limit,
            Duration.ofMillis(2),
            () -> maxThreads.accumulateAndGet(live.count(), Math::max),
            live);
    assertThat(o.results()).hasSize(200);
    assertThat(o.maxInFlight()).isLessThanOrEqualTo(limit);
    assertThat(o.callThreads()).isBetween(1, limit);
    // source and sink, plus at most one worker per call in flight (the stage's own thread is one)
    assertThat(maxThreads.get()).isLessThanOrEqualTo(2 + limit);
  }
}
