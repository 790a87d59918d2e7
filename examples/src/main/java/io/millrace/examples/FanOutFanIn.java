package io.millrace.examples;

import io.millrace.pipeline.Channel;
import io.millrace.pipeline.ChannelClosedException;
import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.PipelineStats;
import io.millrace.pipeline.RunHandle;
import io.millrace.pipeline.RunListener;
import io.millrace.pipeline.StageStats;
import io.millrace.pipeline.ThrowingFunction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Pattern 3: fan-out, fan-in. One to-lower worker per core reads from one shared channel (fan-out);
 * their outputs are merged (fan-in) and turned to title case.
 *
 * <p><b>Go original.</b> The producer writes to one channel; {@code runtime.NumCPU()} goroutines
 * each range over it calling {@code strings.ToLower}, each writing to its own output channel; a
 * {@code merge} function starts one goroutine per input channel copying into a shared output, plus
 * one more that waits on a {@code sync.WaitGroup} and then closes the output; a to-title step and
 * the sink follow. Every close, every {@code WaitGroup.Add}/{@code Done} and every {@code
 * ctx.Done()} case is the programmer's to get right.
 *
 * <p><b>Millrace.</b> The same shape, with the plumbing gone: each worker is {@code
 * Pipeline.from(shared).buffer(1).map(toLower)}, {@link Pipeline#merge} fans them in (the runtime
 * closes the merged buffer when the last worker ends), and {@code .map(toTitle)} follows. The
 * shared {@link Channel} is the one piece a user still owns: the run never closes a source channel,
 * so its producer closes it when done, and if the run ends early the example fails the channel so
 * the producer stops instead of blocking forever. {@code .buffer(1)} makes each worker take one
 * word at a time (a channel source otherwise takes up to a chunk of {@value Pipeline#CHUNK} at
 * once, and one worker could take every word; with a step as cheap as {@code toLowerCase} one
 * worker may still do it all, so the example's step takes 20 ms per word). Fan-in order is not set,
 * so the output order varies from run to run.
 *
 * <p>Without the explicit shape, the same work is one line: {@code
 * Pipeline.from(words).mapConcurrentUnordered(cores, String::toLowerCase).map(toTitle)}.
 */
public final class FanOutFanIn {

  /** The words the producer sends. */
  static final List<String> WORDS =
      List.of("HELLO", "WORLD", "FOO", "BAR", "BAX", "MILLRACE", "PIPELINE", "CHANNEL", "GOPHER");

  /** How long the default to-lower step takes per word. */
  static final Duration WORK = Duration.ofMillis(20);

  private FanOutFanIn() {}

  /**
   * What the example produced.
   *
   * @param titled the words as the sink received them, in arrival order
   * @param perWorker how many words each to-lower worker took, by worker name
   */
  public record Outcome(List<String> titled, Map<String, Long> perWorker) {}

  /**
   * Runs the example with one worker per available processor.
   *
   * @param out receives each line; from the sink's thread, then from the caller's
   * @return what it produced
   * @throws InterruptedException if the calling thread is interrupted
   */
  public static Outcome run(Consumer<String> out) throws InterruptedException {
    return run(
        out,
        WORDS,
        Runtime.getRuntime().availableProcessors(),
        word -> {
          Thread.sleep(WORK); // stands for real work, so that every worker gets a share
          return toLower(word);
        });
  }

  /**
   * Runs the example.
   *
   * @param out receives each line
   * @param words what the producer sends
   * @param workers how many to-lower workers to fan out to
   * @param toLower the workers' function
   * @return what it produced
   * @throws InterruptedException if the calling thread is interrupted
   */
  static Outcome run(
      Consumer<String> out,
      List<String> words,
      int workers,
      ThrowingFunction<String, String> toLower)
      throws InterruptedException {
    out.accept(
        "fan-out to "
            + workers
            + " to-lower workers (one per core: "
            + Runtime.getRuntime().availableProcessors()
            + "), fan-in by merge, then to-title");

    // the producer owns the shared channel: it sends, then closes
    Channel<String> shared = Channel.buffered(workers);
    Thread producer =
        Thread.ofVirtual().name("fan-out-producer").start(() -> produce(words, shared));

    List<Pipeline<String>> lanes = new ArrayList<>(workers);
    for (int i = 1; i <= workers; i++) {
      lanes.add(Pipeline.from(shared).buffer(1).map(toLower).named("to-lower-" + i));
    }
    AtomicReference<PipelineStats> stats = new AtomicReference<>();
    List<String> titled = new ArrayList<>();
    boolean completed = false;
    try {
      Pipeline.merge(toArray(lanes))
          .map(FanOutFanIn::toTitle)
          .named("to-title")
          .withListener(
              new RunListener() {
                @Override
                public void onEnd(RunHandle<?> run, PipelineStats finalStats, Throwable failure) {
                  stats.set(finalStats);
                }
              })
          .forEach(
              word -> {
                titled.add(word); // the sink is one thread: no lock needed
                out.accept(word);
              });
      completed = true;
    } finally {
      if (!completed) {
        // the run never closes or fails a source channel; release a producer blocked in send
        shared.fail(new CancellationException("the consumers of this channel have stopped"));
      }
      joinUninterruptibly(producer); // ends at once: its channel is closed or failed
    }

    Map<String, Long> perWorker = new LinkedHashMap<>();
    for (StageStats s : stats.get().stages()) {
      if (s.name().startsWith("to-lower-")) {
        perWorker.put(s.name(), s.in());
      }
    }
    long total = perWorker.values().stream().mapToLong(Long::longValue).sum();
    out.accept(titled.size() + " words in, " + total + " through the workers: " + perWorker);
    return new Outcome(List.copyOf(titled), perWorker);
  }

  private static void produce(List<String> words, Channel<String> shared) {
    try {
      for (String w : words) {
        shared.send(w);
      }
      shared.close();
    } catch (ChannelClosedException e) {
      // the consumers stopped early and failed the channel: nothing more to send
    } catch (InterruptedException e) {
      shared.fail(e);
    }
  }

  private static void joinUninterruptibly(Thread t) {
    boolean interrupted = false;
    while (true) {
      try {
        t.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Pipeline<String>[] toArray(List<Pipeline<String>> lanes) {
    return lanes.toArray(new Pipeline[0]); // Pipeline.merge takes varargs only
  }

  /**
   * The workers' step, like Go's {@code strings.ToLower}.
   *
   * @param s a word
   * @return the word in lower case
   */
  static String toLower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }

  /**
   * The step after the fan-in, like Go's {@code strings.Title} for one word.
   *
   * @param s a word
   * @return the word with its first letter in upper case
   */
  static String toTitle(String s) {
    return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1);
  }

  /**
   * Runs the example, printing to standard output.
   *
   * @param args ignored
   * @throws InterruptedException if interrupted
   */
  public static void main(String[] args) throws InterruptedException {
    run(System.out::println);
  }
}
