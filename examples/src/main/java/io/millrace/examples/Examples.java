package io.millrace.examples;

import java.io.PrintStream;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Runs the examples: every one in turn, each under a header, or only those named on the command
 * line.
 *
 * <pre>{@code
 * java -jar examples/target/millrace-examples.jar                    # all of them
 * java -jar examples/target/millrace-examples.jar fan-out-fan-in     # one
 * }</pre>
 *
 * <p>Go original: each pattern of the article is its own {@code main} package. Millrace: each is
 * its own class with a {@code main}, and this launcher runs them in order. An example that fails is
 * reported and the others still run; the exit status is 1 if any failed, 2 for an unknown name. The
 * jar's entry point is {@link Launcher}, which hands over to this class on Java 21+ (and finds a
 * JDK 21+ to run it on when the {@code java} on the path is older).
 */
public final class Examples {

  private Examples() {}

  /** The body of an example: writes its output, one line per call, to {@code out}. */
  @FunctionalInterface
  public interface Body {
    /**
     * Runs the example.
     *
     * @param out receives each output line; may be called from threads of a pipeline run, but never
     *     from two at once within one example unless that example says so
     * @throws Exception if the example failed
     */
    void run(Consumer<String> out) throws Exception;
  }

  /**
   * One runnable example.
   *
   * @param name what to pass on the command line to run only this one
   * @param title the pattern it shows, as printed in its header
   * @param body what it does
   */
  public record Entry(String name, String title, Body body) {
    /** Validates the components. */
    public Entry {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(title, "title");
      Objects.requireNonNull(body, "body");
    }
  }

  /** {@return every example, in the order of the Go article} */
  public static List<Entry> all() {
    return List.of(
        new Entry("producer-sink", "(1) producer -> sink", ProducerSink::run),
        new Entry(
            "graceful-shutdown",
            "(2) graceful shutdown: cancel after a delay while items are slow",
            GracefulShutdown::runBoth),
        new Entry(
            "fan-out-fan-in",
            "(3) fan-out/fan-in: to-lower on one worker per core, merged, then to-title",
            FanOutFanIn::run),
        new Entry(
            "error-handling",
            "(4) error handling: the step that fails on \"foo\" cancels the run",
            ErrorHandling::runBoth),
        new Entry(
            "generic-step", "(5) a generic step, reused for different types", GenericStep::run),
        new Entry(
            "bounded-concurrency",
            "(6) semaphore-bounded concurrency: mapConcurrent(n, fn)",
            BoundedConcurrency::run));
  }

  /**
   * Runs the examples named in {@code args}, or all of them if there are none.
   *
   * @param args example names
   * @param out receives the headers and the examples' output lines
   * @param err receives usage and failure reports
   * @return the exit status: 0 if every example ran, 1 if one failed, 2 for an unknown name
   */
  public static int run(List<String> args, Consumer<String> out, Consumer<String> err) {
    return run(all(), args, out, err);
  }

  /** Like {@link #run(List, Consumer, Consumer)}, choosing from {@code all}. */
  static int run(List<Entry> all, List<String> args, Consumer<String> out, Consumer<String> err) {
    List<Entry> chosen;
    if (args.isEmpty()) {
      chosen = all;
    } else {
      chosen = new java.util.ArrayList<>();
      for (String name : args) {
        Entry e = all.stream().filter(x -> x.name().equals(name)).findFirst().orElse(null);
        if (e == null) {
          err.accept("unknown example '" + name + "'");
          usage(all, err);
          return 2;
        }
        chosen.add(e);
      }
    }
    int status = 0;
    boolean first = true;
    for (Entry e : chosen) {
      if (!first) {
        out.accept("");
      }
      first = false;
      out.accept("== " + e.name() + ": " + e.title() + " ==");
      try {
        e.body().run(out);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        err.accept("example '" + e.name() + "' was interrupted");
        return 1;
      } catch (Exception ex) {
        err.accept("example '" + e.name() + "' failed: " + ex);
        status = 1;
      }
    }
    return status;
  }

  private static void usage(List<Entry> all, Consumer<String> err) {
    err.accept("usage: java -jar millrace-examples.jar [example ...]");
    err.accept("examples:");
    for (Entry e : all) {
      err.accept(String.format("  %-20s %s", e.name(), e.title()));
    }
  }

  /**
   * Runs the examples named on the command line, or all of them.
   *
   * @param args example names
   */
  public static void main(String[] args) {
    PrintStream stdout = System.out;
    PrintStream stderr = System.err;
    int status = run(List.of(args), stdout::println, stderr::println);
    stdout.flush();
    if (status != 0) {
      System.exit(status);
    }
  }
}
