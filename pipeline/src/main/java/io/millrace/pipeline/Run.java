package io.millrace.pipeline;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One run of a pipeline, as its caller and its listeners see it: the {@link RunHandle}.
 *
 * <p>{@link #start} wires the description ({@link Wiring}), tells the listeners, starts the
 * deadline and forks the stage threads; the threads, the stop and the end belong to the run's
 * {@link RunScope}.
 */
final class Run<T> implements RunHandle<T> {
  private final RunScope scope;
  private final List<RunListener> listeners;
  private final List<StageCounters> stages;
  private final List<Runnable> tasks;
  private volatile Thread startingThread; // while it tells the listeners onStart
  private volatile Thread endingThread; // the run's last thread, which tells them onEnd

  private Run(List<RunListener> listeners, Node root, ThrowingConsumer<Object> sink) {
    this.listeners = listeners;
    this.scope = new RunScope(this::ended);
    Wiring w = Wiring.of(scope, root, sink);
    this.stages = w.stages();
    this.tasks = w.tasks();
  }

  /**
   * Starts a run of {@code root} into {@code sink} and returns at once.
   *
   * @param timeout the run's deadline, or {@code null} for none
   * @throws IllegalStateException if a one-shot source of the description was already run
   */
  static <T> Run<T> start(
      Node root, Duration timeout, List<RunListener> listeners, ThrowingConsumer<Object> sink) {
    Run<T> run = new Run<>(listeners, root, sink);
    run.startingThread = Thread.currentThread();
    try {
      run.tell(l -> l.onStart(run));
    } finally {
      run.startingThread = null;
    }
    if (timeout != null) {
      run.scope.startWatchdog(timeout);
    }
    for (Runnable t : run.tasks) {
      t.run();
    }
    run.scope.started();
    return run;
  }

  /** Called by the run's last thread, before the run counts as done. */
  private void ended(RuntimeException outcome) {
    endingThread = Thread.currentThread();
    PipelineStats finalStats = stats();
    tell(l -> l.onEnd(this, finalStats, outcome));
  }

  /**
   * Tells every listener; listeners must not break runs. A {@code RuntimeException} from one is
   * ignored; an {@code Error} goes to the calling thread's uncaught-exception handler (that thread
   * may be a run's or the caller's of {@code start}, so throwing it on would make the caller's
   * outcome depend on which thread ended the run), and the others are still told.
   */
  private void tell(Consumer<RunListener> call) {
    for (RunListener l : listeners) {
      try {
        call.accept(l);
      } catch (RuntimeException ignored) {
        // listeners must not break runs
      } catch (Error e) {
        Thread self = Thread.currentThread();
        self.getUncaughtExceptionHandler().uncaughtException(self, e);
      }
    }
  }

  @Override
  public void cancel() {
    scope.cancel("pipeline cancelled", null);
  }

  @Override
  public void join() throws InterruptedException {
    refuseWhileStarting();
    if (Thread.currentThread() != endingThread) {
      scope.awaitDone();
    }
    report();
  }

  @Override
  public boolean join(Duration timeout) throws InterruptedException {
    refuseWhileStarting();
    if (Thread.currentThread() != endingThread && !scope.awaitDone(timeout)) {
      return false;
    }
    report();
    return true;
  }

  /**
   * A join from {@code onStart} would wait for ever: the stages are forked after it returns. (From
   * {@code onEnd} a join does not wait: every thread of the run but the caller has ended, and the
   * outcome is final.)
   */
  private void refuseWhileStarting() {
    if (Thread.currentThread() == startingThread) {
      throw new IllegalStateException(
          "join() from RunListener.onStart would wait forever: the run starts after onStart");
    }
  }

  /** Waits for the end; an interrupt of the waiting thread cancels the run (and is kept). */
  void joinCancellingOnInterrupt() {
    boolean interrupted = false;
    while (true) {
      try {
        scope.awaitDone();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
        scope.cancel("pipeline cancelled: the thread waiting for it was interrupted", e);
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    report();
  }

  private void report() {
    RuntimeException ex = scope.outcome();
    if (ex != null) {
      throw ex;
    }
  }

  @Override
  public boolean isDone() {
    return scope.isDone();
  }

  @Override
  public PipelineStats stats() {
    List<StageStats> out = new ArrayList<>(stages.size());
    for (StageCounters s : stages) {
      out.add(s.snapshot());
    }
    return new PipelineStats(out);
  }

  /**
   * {@return whether the run is stopping} For a stage that waits on something of its own (not a
   * buffer of the run, which the stop fails): user code it called may have swallowed the stop's
   * interrupt, so it checks this before it waits.
   */
  boolean isStopping() {
    return scope.isStopping();
  }

  /** {@return how many threads of this run count as running now} See {@link RunScope}. */
  int liveThreads() {
    return scope.liveThreads();
  }

  @Override
  public String toString() {
    String state = isDone() ? ", done" : scope.isStopping() ? ", stopping" : ", running";
    return "Run[" + scope.id + state + "]";
  }
}
