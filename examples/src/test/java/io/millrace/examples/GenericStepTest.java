package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.examples.GenericStep.Step;
import io.millrace.pipeline.NoLeakedRunThreads;
import io.millrace.pipeline.Pipeline;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

@Timeout(30)
@ExtendWith(NoLeakedRunThreads.class)
class GenericStepTest {

  @Test
  void theSameStepFunctionTrimsParsesSquaresAndDescribesAndDeadLettersWhatDoesNotParse() {
    List<String> lines = new CopyOnWriteArrayList<>();
    List<String> results = GenericStep.run(lines::add);
    assertThat(results).containsExactly("square 1", "square 4", "square 16");
    assertThat(lines)
        .containsExactly(
            "input: [ 1, 2 , three,  4 ]",
            "square 1",
            "square 4",
            "square 16",
            "dead letter from parse: three (java.lang.NumberFormatException: For input string:"
                + " \"three\")");
  }

  @Test
  void aStepIsReusableForOtherTypesAndNamesItsStage() {
    List<String> dead = new CopyOnWriteArrayList<>();
    Step<Double, Long> round = GenericStep.step("round", (Double d) -> Math.round(d), dead::add);
    Step<Long, Long> invert =
        GenericStep.step(
            "invert",
            (Long l) -> {
              if (l == 0) {
                throw new ArithmeticException("no inverse of 0");
              }
              return 100 / l;
            },
            dead::add);
    List<Long> out = round.then(invert).applyTo(Pipeline.from(List.of(0.4, 1.6, 4.5))).toList();
    assertThat(out).containsExactly(50L, 20L);
    assertThat(dead).containsExactly("invert: 0 (java.lang.ArithmeticException: no inverse of 0)");
  }
}
