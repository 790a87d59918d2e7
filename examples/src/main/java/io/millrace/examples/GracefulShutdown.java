package io.millrace.examples;

import io.millrace.pipeline.Channel;
import io.millrace.pipeline.ChannelClosedException;
import io.millrace.pipeline.Pipeline;
import io.millrace.pipeline.RunHandle;
import io.millrace.pipeline.Select;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Pattern 2: graceful shutdown, cancelling a run after a delay while its items are slow.
 *
 * <p><b>Go original.</b> {@code main} derives a {@code context.WithCancel}, starts an endless
 * producer and a slow step, and calls {@code cancel()} when a signal (or a timer) fires. Every
 * goroutine must notice {@code ctx.Done()} in its own {@code select}; a step busy in {@code
 * time.Sleep} or blocked on a send that is not inside such a {@code select} does not notice, and
 * nothing waits for the goroutines to end, so work can outlive {@code main}'s "shutdown".
 *
 * <p><b>Millrace.</b> {@link RunHandle#cancel()} stops the source, interrupts every user function
 * in flight (here the {@code Thread.sleep} standing for slow work) and fails every buffer; {@link
 * RunHandle#join()} then returns only after every thread of the run has ended, throwing {@link
 * CancellationException}. The example counts calls that are running: after {@code join} it is
 * always 0, and the one call in flight at the cancel was interrupted, not left to finish. In a
 * service, the same two calls go in a shutdown hook (what Go does on {@code SIGINT}/{@code
 * SIGTERM}).
 *
 * <p><b>The Go loops themselves.</b> {@link #withDoneChannel} ports the Go code line for line with
 * {@link Channel} and {@link Select}: a {@code done} channel that is only ever closed, a producer
 * whose every send is {@code select}ed against it, a worker whose every receive is too. It stops
 * both loops and, unlike the Go version, waits for them; but like Go, a worker busy with an item
 * does not see {@code done} until it selects again. The pipeline above needs none of it.
 */
public final class GracefulShutdown {

  /** How long each item's work takes by default. */
  static final Duration PER_ITEM = Duration.ofMillis(100);

  /** When the run is cancelled by default: halfway through an item. */
  static final Duration CANCEL_AFTER = Duration.ofMillis(350);

  private GracefulShutdown() {}

  /**
   * What the example observed.
   *
   * @param processed items that reached the sink
   * @param interrupted calls of the slow step interrupted by the cancel
   * @param stillRunning calls of the slow step still running when {@code join} returned
   * @param ending what {@code join} threw
   */
  public record Outcome(int processed, int interrupted, int stillRunning, Throwable ending) {}

  /**
   * Runs the example with its default timings.
   *
   * @param out receives each line, from the sink's thread and then from the caller's
   * @return what it observed
   * @throws InterruptedException if the calling thread is interrupted
   */
  public static Outcome run(Consumer<String> out) throws InterruptedException {
    return run(out, PER_ITEM, CANCEL_AFTER);
  }

  /**
   * Runs the example.
   *
   * @param out receives each line
   * @param perItem how long each item's work takes
   * @param cancelAfter when to cancel the run
   * @return what it observed
   * @throws InterruptedException if the calling thread is interrupted (the run is cancelled and
   *     waited for first)
   */
  public static Outcome run(Consumer<String> out, Duration perItem, Duration cancelAfter)
      throws InterruptedException {
    AtomicInteger produced = new AtomicInteger();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger interrupted = new AtomicInteger();
    AtomicInteger processed = new AtomicInteger();

    RunHandle<String> run =
        Pipeline.generate(() -> "item-" + produced.incrementAndGet()) // endless producer
            .named("producer")
            .map(
                item -> {
                  running.incrementAndGet();
                  try {
                    Thread.sleep(perItem); // slow work; cancel interrupts it
                    return item;
                  } catch (InterruptedException e) {
                    interrupted.incrementAndGet();
                    throw e;
                  } finally {
                    running.decrementAndGet();
                  }
                })
            .named("slow-work")
            .start(
                item -> {
                  processed.incrementAndGet();
                  out.accept("processed " + item);
                });

    Throwable ending = null;
    try {
      Thread.sleep(cancelAfter);
      out.accept("cancelling after " + cancelAfter.toMillis() + " ms");
    } finally {
      run.cancel(); // also when this thread is interrupted while waiting
      try {
        run.join();
      } catch (CancellationException e) {
        ending = e;
      }
    }
    // join returned: every thread of the run has ended, every call has returned
    out.accept("run ended with: " + ending);
    out.accept("calls interrupted in flight: " + interrupted.get());
    out.accept("calls still running: " + running.get());
    return new Outcome(processed.get(), interrupted.get(), running.get(), ending);
  }

  /**
   * What the done-channel version observed.
   *
   * @param produced items the producer handed over
   * @param processed items the worker finished
   * @param threadsAlive producer and worker threads still alive when it returned
   */
  public record DoneOutcome(int produced, int processed, int threadsAlive) {}

  /**
   * The Go original with a done channel: an endless producer and a slow worker, both {@code
   * select}ing against {@code done}, which is closed after {@code stopAfter}.
   *
   * @param out receives each line; from the worker's thread, then from the caller's
   * @param perItem how long the worker takes per item
   * @param stopAfter when to close {@code done}
   * @return what it observed
   * @throws InterruptedException if the calling thread is interrupted (both loops are stopped and
   *     waited for first)
   */
  public static DoneOutcome withDoneChannel(
      Consumer<String> out, Duration perItem, Duration stopAfter) throws InterruptedException {
    Channel<String> values = Channel.rendezvous(); // values := make(chan string)
    Channel<Void> done = Channel.rendezvous(); // done := make(chan struct{}); only ever closed
    AtomicInteger produced = new AtomicInteger();
    AtomicInteger processed = new AtomicInteger();

    Thread producer =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    for (int i = 1; ; i++) {
                      // select { case values <- item: case <-done: return }
                      Select.select(values.sendClause("item-" + i), done.receiveClause());
                      produced.incrementAndGet(); // the worker has it: the channel is rendezvous
                    }
                  } catch (ChannelClosedException | InterruptedException stop) {
                    // done was closed
                  }
                });
    Thread worker =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    while (true) {
                      // select { case v := <-values: work(v); case <-done: return }
                      // (done never yields a value: closed, its clause throws)
                      String v = Select.select(values.receiveClause(), done.receiveClause(x -> ""));
                      Thread.sleep(perItem); // slow work: does not see done, as in Go
                      processed.incrementAndGet();
                      out.accept("worker processed " + v);
                    }
                  } catch (ChannelClosedException | InterruptedException stop) {
                    // done was closed
                  }
                });

    try {
      Thread.sleep(stopAfter);
      out.accept("closing done after " + stopAfter.toMillis() + " ms");
    } finally {
      done.close(); // close(done): every select on it can now take that case
      producer.join(); // what the Go version does not do: wait for both loops to end
      worker.join();
    }
    int alive = (producer.isAlive() ? 1 : 0) + (worker.isAlive() ? 1 : 0);
    out.accept(
        "done channel: produced "
            + produced.get()
            + ", processed "
            + processed.get()
            + ", loops still running: "
            + alive);
    return new DoneOutcome(produced.get(), processed.get(), alive);
  }

  /**
   * Runs the example: the pipeline, then the done-channel version, each with its default timings.
   *
   * @param out receives each line
   * @throws InterruptedException if the calling thread is interrupted
   */
  static void runBoth(Consumer<String> out) throws InterruptedException {
    run(out);
    out.accept("done channel: the Go loops, with select");
    withDoneChannel(out, PER_ITEM, CANCEL_AFTER);
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
