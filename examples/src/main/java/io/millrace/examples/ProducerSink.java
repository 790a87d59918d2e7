package io.millrace.examples;

import io.millrace.pipeline.Pipeline;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Pattern 1: a producer feeding a sink.
 *
 * <p><b>Go original.</b> {@code producer(ctx, strings)} starts a goroutine that sends each string
 * into an unbuffered channel and closes it when done; {@code sink(ctx, values)} loops on a {@code
 * select} over {@code ctx.Done()} and the channel, printing each value until the channel is closed.
 * Who closes the channel, and that every goroutine ends, is up to the programmer.
 *
 * <p><b>Millrace.</b> The producer is the source {@code Pipeline.from(list)} and the sink is the
 * consumer passed to {@code forEach}. The runtime runs each on its own virtual thread, joins them
 * with a bounded buffer that it closes itself when the producer ends, and {@code forEach} returns
 * only after both threads have ended. There is no channel to make, close, or drain by hand, and
 * nothing is left running afterwards.
 */
public final class ProducerSink {

  /** What the producer emits. */
  static final List<String> WORDS = List.of("FOO", "BAR", "BAX");

  private ProducerSink() {}

  /**
   * Runs the example.
   *
   * @param out receives each line; called from the sink's thread, one call at a time
   */
  public static void run(Consumer<String> out) {
    AtomicInteger received = new AtomicInteger();
    Pipeline.from(WORDS)
        .named("producer")
        .forEach(
            word -> {
              received.incrementAndGet();
              out.accept(word);
            });
    // forEach returned: the producer and the sink have both ended
    out.accept("done: the sink received " + received.get() + " of " + WORDS.size() + " words");
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
