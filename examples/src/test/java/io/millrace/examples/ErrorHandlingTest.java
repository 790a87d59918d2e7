package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.pipeline.NoLeakedRunThreads;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

@Timeout(30) // the producer is endless: only the failure can end the first run
@ExtendWith(NoLeakedRunThreads.class)
class ErrorHandlingTest {

  @Test
  void fooFailsTheRunNamingTheStageThenDivertLetsTheRestThrough() {
    List<String> lines = new CopyOnWriteArrayList<>();
    ErrorHandling.Outcome o = ErrorHandling.run(lines::add);

    assertThat(NoLeakedRunThreads.liveRunThreads()).isZero();
    assertThat(o.failure()).isNotNull();
    assertThat(o.failure().stage()).isEqualTo("reject-foo");
    assertThat(o.failure().getCause())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("\"foo\" is not allowed");
    assertThat(o.failure().getSuppressed()).isEmpty();
    // nothing from after "foo" ever reached the sink; what came before may not have either
    List<String> beforeFoo = List.of("bar", "bax");
    assertThat(o.sinkBeforeFailure()).isEqualTo(beforeFoo.subList(0, o.sinkBeforeFailure().size()));
    assertThat(o.sinkWithDivert()).containsExactly("bar", "bax", "qux");
    assertThat(o.deadLetters())
        .containsExactly("foo (java.lang.IllegalArgumentException: \"foo\" is not allowed)");

    List<String> expected = new ArrayList<>();
    expected.add("fail-fast: an endless producer, and a step that throws on \"foo\"");
    o.sinkBeforeFailure().forEach(w -> expected.add("sink got " + w));
    expected.add(
        "run failed: stage 'reject-foo' failed: java.lang.IllegalArgumentException:"
            + " \"foo\" is not allowed");
    expected.add(
        "failed stage: reject-foo, cause: java.lang.IllegalArgumentException: \"foo\" is not"
            + " allowed");
    expected.add("divert: the same step, with failures sent to a dead-letter consumer");
    expected.add("sink got bar");
    expected.add("sink got bax");
    expected.add("sink got qux");
    expected.add("dead letter: foo (java.lang.IllegalArgumentException: \"foo\" is not allowed)");
    assertThat(lines).isEqualTo(expected);
  }

  @Test
  void theGoSinkSelectingOverValuesAndErrorsStopsAtFooAndEveryLoopEnds() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    ErrorHandling.ChannelOutcome o = ErrorHandling.withErrorChannel(lines::add);

    assertThat(o.threadsAlive()).isZero();
    assertThat(o.sinkGot()).containsExactly("bar", "bax");
    assertThat(o.error())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("\"foo\" is not allowed");
    assertThat(lines)
        .containsExactly(
            "sink got bar",
            "sink got bax",
            "sink got an error: \"foo\" is not allowed; closing done",
            "error channel: producer and step still running: 0");
  }
}
