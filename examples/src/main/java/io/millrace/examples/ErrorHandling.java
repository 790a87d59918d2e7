package io.millrace.examples;

import io.millrace.pipeline.ErrorPolicy;
import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.PipelineException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Pattern 4: error handling. A step fails on the word "foo"; the failure cancels the run and is
 * reported to the caller, naming the stage.
 *
 * <p><b>Go original.</b> Each step returns {@code (out, error)}; errors go into a separate error
 * channel, and the sink {@code select}s over the value channel, the error channel and {@code
 * ctx.Done()}, calling {@code cancel()} on the first error. If nobody reads the error channel (or
 * the sink has already returned), the step blocks on its send forever and leaks; the error itself
 * carries no record of which step raised it unless the programmer wraps it.
 *
 * <p><b>Millrace.</b> Steps just throw (checked exceptions too). With the default policy the first
 * exception cancels the run: the source stops, calls in flight are interrupted, and the terminal
 * operation throws {@link PipelineException} whose {@link PipelineException#stage()} names the
 * failed stage and whose cause is the exception. Here the producer is endless, so the run ending at
 * all shows that the failure stopped it. There is no error channel to forget to drain. When
 * failures should not stop the run, a per-stage policy says so: the second half of the example
 * diverts "foo" to a dead-letter consumer and lets the rest through.
 */
public final class ErrorHandling {

  /** What the producer sends, cycling forever in the fail-fast half. */
  static final List<String> WORDS = List.of("BAR", "BAX", "FOO", "QUX");

  private ErrorHandling() {}

  /**
   * What the example observed.
   *
   * @param sinkBeforeFailure what the sink got in the fail-fast half before the run stopped (a
   *     prefix of "bar", "bax": results not yet handed on when the run fails are dropped)
   * @param failure what the fail-fast half threw
   * @param sinkWithDivert what the sink got in the divert half
   * @param deadLetters what the divert half's dead-letter consumer got
   */
  public record Outcome(
      List<String> sinkBeforeFailure,
      PipelineException failure,
      List<String> sinkWithDivert,
      List<String> deadLetters) {}

  /**
   * The step that fails on "foo".
   *
   * @param word a lower-case word
   * @return the word
   * @throws IllegalArgumentException if the word is "foo"
   */
  static String rejectFoo(String word) {
    if (word.equals("foo")) {
      throw new IllegalArgumentException("\"foo\" is not allowed");
    }
    return word;
  }

  /**
   * Runs the example.
   *
   * @param out receives each line; from the sink's thread, then from the caller's
   * @return what it observed
   */
  public static Outcome run(Consumer<String> out) {
    out.accept("fail-fast: an endless producer, and a step that throws on \"foo\"");
    AtomicInteger next = new AtomicInteger();
    List<String> sinkBeforeFailure = new ArrayList<>();
    PipelineException failure = null;
    try {
      Pipeline.generate(() -> WORDS.get(next.getAndIncrement() % WORDS.size()))
          .named("producer")
          .map(w -> w.toLowerCase(Locale.ROOT))
          .named("to-lower")
          .map(ErrorHandling::rejectFoo)
          .named("reject-foo")
          .forEach(
              w -> {
                sinkBeforeFailure.add(w);
                out.accept("sink got " + w);
              });
      out.accept("the run ended without an error"); // not reached: the producer is endless
    } catch (PipelineException e) {
      failure = e;
      out.accept("run failed: " + e.getMessage());
      out.accept("failed stage: " + e.stage() + ", cause: " + e.getCause());
    }

    out.accept("divert: the same step, with failures sent to a dead-letter consumer");
    List<String> deadLetters = new CopyOnWriteArrayList<>(); // written on the stage's thread
    List<String> sinkWithDivert =
        Pipeline.from(WORDS)
            .map(w -> w.toLowerCase(Locale.ROOT))
            .named("to-lower")
            .map(ErrorHandling::rejectFoo)
            .named("reject-foo")
            .onError(ErrorPolicy.divert((word, e) -> deadLetters.add(word + " (" + e + ")")))
            .toList();
    for (String w : sinkWithDivert) {
      out.accept("sink got " + w);
    }
    for (String d : deadLetters) {
      out.accept("dead letter: " + d);
    }
    return new Outcome(
        List.copyOf(sinkBeforeFailure), failure, sinkWithDivert, List.copyOf(deadLetters));
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
