package io.millrace.examples;

import io.millrace.pipeline.Channel;
import io.millrace.pipeline.ChannelClosedException;
import io.millrace.pipeline.ErrorPolicy;
import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.PipelineException;
import io.millrace.pipeline.Select;
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
 *
 * <p><b>The Go sink itself.</b> {@link #withErrorChannel} ports the Go shape with {@link Channel}
 * and {@link Select}: the step sends its error into a one-slot error channel, and the sink {@code
 * select}s over the values and the errors, closing {@code done} (Go's {@code cancel()}) on the
 * first error; every loop selects against {@code done}, and the sink waits for them all.
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
   * What the error-channel version observed.
   *
   * @param sinkGot the words the sink received before the error
   * @param error the error the sink received
   * @param threadsAlive producer and step threads still alive when it returned
   */
  public record ChannelOutcome(List<String> sinkGot, Exception error, int threadsAlive) {}

  /**
   * The Go original with an error channel: an endless producer, the step that fails on "foo"
   * reporting into {@code errc}, and a sink {@code select}ing over values and errors.
   *
   * @param out receives each line, from the caller's thread
   * @return what it observed
   * @throws InterruptedException if the calling thread is interrupted (the loops are stopped and
   *     waited for first)
   */
  public static ChannelOutcome withErrorChannel(Consumer<String> out) throws InterruptedException {
    Channel<String> words = Channel.rendezvous();
    Channel<String> values = Channel.rendezvous(); // out := make(chan string)
    Channel<Exception> errc = Channel.buffered(1); // errc := make(chan error, 1)
    Channel<Void> done = Channel.rendezvous(); // ctx.Done(); closed by the sink on an error

    Thread producer =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    for (int i = 0; ; i++) {
                      String w = WORDS.get(i % WORDS.size()).toLowerCase(Locale.ROOT);
                      Select.select(words.sendClause(w), done.receiveClause());
                    }
                  } catch (ChannelClosedException | InterruptedException stop) {
                    // done was closed
                  }
                });
    Thread step =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    while (true) {
                      // for s := range in, and <-ctx.Done()
                      String w = Select.select(words.receiveClause(), done.receiveClause(x -> ""));
                      try {
                        rejectFoo(w);
                      } catch (IllegalArgumentException e) {
                        errc.send(e); // errc <- err; return
                        return;
                      }
                      // select { case out <- s: case <-ctx.Done(): return }
                      Select.select(values.sendClause(w), done.receiveClause());
                    }
                    // Go defers close(out) here too; closed while an error waits, a select over
                    // both may take either (in Go as here), so this step returns without closing it
                  } catch (ChannelClosedException | InterruptedException stop) {
                    // done was closed
                  }
                });

    List<String> got = new ArrayList<>();
    Exception error = null;
    try {
      while (error == null) {
        // select { case v := <-out: print(v); case err := <-errc: cancel(); return err }
        Object next = Select.select(values.receiveClause(), errc.receiveClause());
        if (next instanceof Exception e) {
          error = e;
          out.accept("sink got an error: " + e.getMessage() + "; closing done");
        } else {
          got.add((String) next);
          out.accept("sink got " + next);
        }
      }
    } finally {
      done.close(); // cancel()
      producer.join(); // and, unlike Go, wait for the producer and the step to end
      step.join();
    }
    int alive = (producer.isAlive() ? 1 : 0) + (step.isAlive() ? 1 : 0);
    out.accept("error channel: producer and step still running: " + alive);
    return new ChannelOutcome(List.copyOf(got), error, alive);
  }

  /**
   * Runs the example: the pipeline versions, then the error-channel version.
   *
   * @param out receives each line
   * @throws InterruptedException if the calling thread is interrupted
   */
  static void runBoth(Consumer<String> out) throws InterruptedException {
    run(out);
    out.accept("error channel: the Go sink, with select");
    withErrorChannel(out);
  }

  /**
   * Runs the example, printing to standard output.
   *
   * @param args ignored
   * @throws InterruptedException if interrupted
   */
  public static void main(String[] args) throws InterruptedException {
    runBoth(System.out::println);
  }
}
