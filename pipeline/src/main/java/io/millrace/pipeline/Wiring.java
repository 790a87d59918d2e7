package io.millrace.pipeline;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Turns a pipeline description ({@link Node}s) into what one run needs: a buffer in front of every
 * stage, each stage's counters and body, and the tasks that fork the stage threads.
 *
 * <p>Nothing runs while wiring: the tasks are run by {@link Run#start} once every stage is wired,
 * so a description that cannot run (a one-shot source used twice) fails before any thread starts.
 * Used by the starting thread only.
 */
final class Wiring {
  private final RunScope scope;
  private final List<StageCounters> stages = new ArrayList<>();
  private final Set<String> names = new HashSet<>();
  private final List<Runnable> tasks = new ArrayList<>();

  private Wiring(RunScope scope) {
    this.scope = scope;
  }

  /**
   * Wires {@code root} and a sink stage that hands every element to {@code sink}.
   *
   * @return the wiring: its {@link #stages()} and its {@link #tasks()}
   * @throws IllegalStateException if a one-shot source of the description was already run
   */
  static Wiring of(RunScope scope, Node root, ThrowingConsumer<Object> sink) {
    Wiring w = new Wiring(scope);
    Outlet sinkIn = w.newOutlet(root.capacity());
    w.wire(root, sinkIn);
    StageCounters st = w.newStage("sink", null);
    SinkStage body = new SinkStage(st, sink, sinkIn.channel);
    w.tasks.add(() -> scope.fork(st, body));
    return w;
  }

  /** {@return every stage's counters: sources first, the sink last} */
  List<StageCounters> stages() {
    return stages;
  }

  /** {@return the tasks that fork the stage threads, one per stage} */
  List<Runnable> tasks() {
    return tasks;
  }

  private Outlet newOutlet(int capacity) {
    Channel<Object> ch = Channel.buffered(capacity);
    scope.register(ch);
    return new Outlet(ch);
  }

  /** Registers the tasks that make {@code node} write into {@code out}. */
  private void wire(Node node, Outlet out) {
    Node.Op op = node.op();
    if (op instanceof Node.MergeOp) {
      for (Node input : node.inputs()) {
        wire(input, out);
      }
      return;
    }
    out.addProducer();
    Channel<Object> in = null;
    if (!node.inputs().isEmpty()) {
      Node upstream = node.inputs().get(0);
      Outlet inlet = newOutlet(upstream.capacity());
      wire(upstream, inlet);
      in = inlet.channel;
    }
    StageCounters st = newStage(node.name() != null ? node.name() : op.kind(), out.channel);
    StageBody body = body(op, st, node.policy(), in, out);
    tasks.add(() -> scope.fork(st, body));
  }

  private StageBody body(
      Node.Op op, StageCounters st, ErrorPolicy policy, Channel<Object> in, Outlet out) {
    return switch (op) {
      case Node.IterableSource s ->
          new IteratorSourceStage(
              st, s.iterable()::iterator, null, s.iterable() instanceof Collection<?>, out);
      case Node.OnceSource s -> {
        if (!s.used().compareAndSet(false, true)) {
          throw new IllegalStateException(
              "this pipeline's source is an Iterator or a Stream, which can be run only once");
        }
        yield new IteratorSourceStage(st, s.iterator(), closedOnce(st, s.onEnd()), false, out);
      }
      case Node.ChannelSource s -> new ChannelSourceStage(scope, st, s.channel(), out);
      case Node.GenerateSource s -> new GenerateStage(st, s.supplier(), out);
      case Node.PublisherSource s -> new PublisherSourceStage(scope, st, s.publisher(), out);
      case Node.MapOp m -> new TransformStage(st, calls(st, policy, m.fn()), false, in, out);
      case Node.FilterOp f ->
          new TransformStage(
              st,
              calls(st, policy, x -> f.predicate().test(x) ? x : PolicyRunner.DROPPED),
              false,
              in,
              out);
      case Node.FlatMapOp f ->
          new TransformStage(st, calls(st, policy, f.fn()::apply), true, in, out);
      case Node.ConcurrentOp c ->
          new ConcurrentStage(
              scope, st, calls(st, policy, c.fn()), c.maxInFlight(), c.ordered(), in, out);
      case Node.BatchOp b -> new BatchStage(st, b.maxSize(), b.maxWait().toNanos(), in, out);
      case Node.MergeOp m -> throw new AssertionError(m);
    };
  }

  /**
   * {@return {@code onEnd}, closed at most once: by the source when it ends, else (if its thread
   * never ran: the run stopped first) by the run's end} Null for null.
   */
  private AutoCloseable closedOnce(StageCounters st, AutoCloseable onEnd) {
    if (onEnd == null) {
      return null;
    }
    AtomicBoolean closed = new AtomicBoolean();
    AutoCloseable once =
        () -> {
          if (closed.compareAndSet(false, true)) {
            onEnd.close();
          }
        };
    scope.closeAtEnd(st, once);
    return once;
  }

  private PolicyRunner calls(
      StageCounters st, ErrorPolicy policy, ThrowingFunction<Object, Object> fn) {
    return new PolicyRunner(scope, st, policy, fn);
  }

  /** Creates a stage's counters under a name unique in the run ({@code base}, else a suffix). */
  private StageCounters newStage(String base, Channel<Object> output) {
    String name = base;
    for (int i = 2; !names.add(name); i++) {
      name = base + "#" + i;
    }
    StageCounters st = new StageCounters(name, output);
    stages.add(st);
    return st;
  }
}
