package io.millrace.examples;

import io.millrace.pipeline.ErrorPolicy;
import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.ThrowingFunction;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Pattern 5: a generic step, one typed stage function reused for different types.
 *
 * <p><b>Go original.</b> With generics, one function replaces a hand-written goroutine per step:
 * {@code func step[In any, Out any](ctx, in <-chan In, out chan Out, errs chan error, fn func(In)
 * (Out, error))} ranges over {@code in}, calls {@code fn}, sends results to {@code out} and errors
 * to {@code errs}, and closes {@code out} at the end. The caller still makes every channel, starts
 * every goroutine and must drain {@code errs}.
 *
 * <p><b>Millrace.</b> Every operator is already generic and typed end to end, so the reusable unit
 * is a function from pipeline to pipeline: a {@link Step}{@code <I, O>} turns a {@code Pipeline<I>}
 * into a {@code Pipeline<O>}. {@link #step} builds one from a name, a function that may throw, and
 * a dead-letter consumer (Go's error channel, but one that cannot block the run). Steps compose
 * with {@link Step#then}, and the compiler checks that each step's output type is the next one's
 * input type. The example uses the same {@code step} for {@code String → String}, {@code String →
 * Integer}, {@code Integer → Integer} and {@code Integer → String}.
 */
public final class GenericStep {

  /** What the producer sends; {@code "three"} does not parse. */
  static final List<String> INPUT = List.of(" 1", "2 ", "three", " 4 ");

  private GenericStep() {}

  /**
   * A reusable, typed piece of pipeline: one or more stages that turn {@code I}s into {@code O}s.
   *
   * @param <I> what the step takes
   * @param <O> what the step emits
   */
  @FunctionalInterface
  public interface Step<I, O> {
    /**
     * Adds this step's stages after {@code upstream}.
     *
     * @param upstream the pipeline so far
     * @return the pipeline with this step's stages added
     */
    Pipeline<O> applyTo(Pipeline<I> upstream);

    /**
     * {@return a step that runs this one and then {@code next}}
     *
     * @param next the step that takes this one's output
     * @param <R> what {@code next} emits
     */
    default <R> Step<I, R> then(Step<O, R> next) {
      Objects.requireNonNull(next, "next");
      return upstream -> next.applyTo(applyTo(upstream));
    }
  }

  /**
   * The generic step: a named stage applying {@code fn} to each element, in order, diverting each
   * element it fails on to {@code deadLetters} and going on without it.
   *
   * @param name the stage's name, shown in stats, errors and dead letters
   * @param fn the function; may throw
   * @param deadLetters receives one line per failed element, on the stage's thread
   * @param <I> what the step takes
   * @param <O> what the step emits
   * @return the step
   */
  public static <I, O> Step<I, O> step(
      String name, ThrowingFunction<? super I, ? extends O> fn, Consumer<String> deadLetters) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(fn, "fn");
    Objects.requireNonNull(deadLetters, "deadLetters");
    return upstream ->
        upstream
            .<O>map(fn)
            .named(name)
            .onError(
                ErrorPolicy.divert(
                    (element, e) -> deadLetters.accept(name + ": " + element + " (" + e + ")")));
  }

  /**
   * Runs the example.
   *
   * @param out receives each line, on the caller's thread
   * @return the results
   */
  public static List<String> run(Consumer<String> out) {
    List<String> deadLetters = new CopyOnWriteArrayList<>(); // written by several stage threads

    Step<String, String> trim = step("trim", String::strip, deadLetters::add);
    Step<String, Integer> parse = step("parse", Integer::parseInt, deadLetters::add);
    Step<Integer, Integer> square = step("square", (Integer i) -> i * i, deadLetters::add);
    Step<Integer, String> describe =
        step("describe", (Integer i) -> "square " + i, deadLetters::add);

    Step<String, String> all = trim.then(parse).then(square).then(describe);
    List<String> results = all.applyTo(Pipeline.from(INPUT)).toList();

    out.accept("input: " + INPUT);
    for (String r : results) {
      out.accept(r);
    }
    for (String d : deadLetters) {
      out.accept("dead letter from " + d);
    }
    return results;
  }

  /**
   * Runs the example, printing to standard output.
   *
   * @param args ignored
   */
  public static void main(String[] args) {
    run(System.out::println);
  }
}
