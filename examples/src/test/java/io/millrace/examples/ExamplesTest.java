package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.pipeline.NoLeakedRunThreads;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

@Timeout(60)
@ExtendWith(NoLeakedRunThreads.class)
class ExamplesTest {

  @Test
  void runsEveryExampleInTheArticlesOrderEachUnderItsHeader() {
    List<String> out = new CopyOnWriteArrayList<>();
    List<String> err = new CopyOnWriteArrayList<>();
    int status = Examples.run(List.of(), out::add, err::add);

    assertThat(err).isEmpty();
    assertThat(status).isZero();
    assertThat(out.stream().filter(l -> l.startsWith("== ")).toList())
        .containsExactly(
            "== producer-sink: (1) producer -> sink ==",
            "== graceful-shutdown: (2) graceful shutdown: cancel after a delay while items are slow"
                + " ==",
            "== fan-out-fan-in: (3) fan-out/fan-in: to-lower on one worker per core, merged, then"
                + " to-title ==",
            "== error-handling: (4) error handling: the step that fails on \"foo\" cancels the run"
                + " ==",
            "== generic-step: (5) a generic step, reused for different types ==",
            "== bounded-concurrency: (6) semaphore-bounded concurrency: mapConcurrent(n, fn) ==");
    assertThat(out).contains("BAX", "calls still running: 0", "square 16");
  }

  @Test
  void runsOnlyTheNamedExample() {
    List<String> out = new CopyOnWriteArrayList<>();
    int status = Examples.run(List.of("producer-sink"), out::add, line -> {});
    assertThat(status).isZero();
    assertThat(out)
        .containsExactly(
            "== producer-sink: (1) producer -> sink ==",
            "FOO",
            "BAR",
            "BAX",
            "done: the sink received 3 of 3 words");
  }

  @Test
  void anUnknownNameIsStatus2WithTheListOfExamples() {
    List<String> out = new CopyOnWriteArrayList<>();
    List<String> err = new CopyOnWriteArrayList<>();
    int status = Examples.run(List.of("producer-sink", "nope"), out::add, err::add);
    assertThat(status).isEqualTo(2);
    assertThat(out).isEmpty();
    assertThat(err.get(0)).isEqualTo("unknown example 'nope'");
    assertThat(err).anySatisfy(l -> assertThat(l).contains("bounded-concurrency"));
  }

  @Test
  void aFailingExampleIsReportedTheOthersStillRunAndTheStatusIs1() {
    List<Examples.Entry> entries =
        List.of(
            new Examples.Entry(
                "broken",
                "fails",
                out -> {
                  throw new IllegalStateException("boom");
                }),
            new Examples.Entry("fine", "works", out -> out.accept("ran")));
    List<String> out = new CopyOnWriteArrayList<>();
    List<String> err = new CopyOnWriteArrayList<>();
    int status = Examples.run(entries, List.of(), out::add, err::add);
    assertThat(status).isEqualTo(1);
    assertThat(err)
        .containsExactly("example 'broken' failed: java.lang.IllegalStateException: boom");
    assertThat(out).containsExactly("== broken: fails ==", "", "== fine: works ==", "ran");
  }
}
