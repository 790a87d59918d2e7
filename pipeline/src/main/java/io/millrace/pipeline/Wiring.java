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
    Outlet sinkIn = w.newOutlet(root.capacity(), null);
    w.wire(root, sinkIn, null);
    StageCounters st = w.newStage("sink", null, null);
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

  private Outlet newOutlet(int capacity, Region region) {
    Channel<Object> ch = Channel.buffered(capacity);
    scope.register(ch);
    if (region != null) {
      region.register(ch);
    }
    return new Outlet(ch);
  }

  /**
   * Registers the tasks that make {@code node} write into {@code out}; its stages are in {@code
   * region} (null: none).
   */
  private void wire(Node node, Outlet out, Region region) {
    Node.Op op = node.op();
    if (op instanceof Node.MergeOp) {
      for (Node input : node.inputs()) {
        wire(input, out, region);
      }
      return;
    }
    out.addProducer();
    String name = node.name() != null ? node.name() : op.kind();
    if (op instanceof Node.ZipOp z) {
      wireZip(node, z, name, out, region);
      return;
    }
    Channel<Object> in = null;
    Region upstreamRegion = region;
    if (op instanceof Node.TakeOp || op instanceof Node.TakeWhileOp) {
      upstreamRegion = new Region(region, name);
    }
    if (!node.inputs().isEmpty()) {
      Node upstream = node.inputs().get(0);
      Outlet inlet = newOutlet(upstream.capacity(), upstreamRegion);
      wire(upstream, inlet, upstreamRegion);
      in = inlet.channel;
    }
    StageCounters st = newStage(name, out.channel, region);
    StageBody body = body(node, st, in, upstreamRegion, out);
    tasks.add(() -> scope.fork(st, body));
  }

  /** Wires a zip: each input in a region of its own, cut when the zip ends. */
  private void wireZip(Node node, Node.ZipOp z, String name, Outlet out, Region region) {
    Node left = node.inputs().get(0);
    Node right = node.inputs().get(1);
    Region leftRegion = new Region(region, name);
    Region rightRegion = new Region(region, name);
    Outlet leftIn = newOutlet(left.capacity(), leftRegion);
    wire(left, leftIn, leftRegion);
    Outlet rightIn = newOutlet(right.capacity(), rightRegion);
    wire(right, rightIn, rightRegion);
    StageCounters st = newStage(name, out.channel, region);
    StageBody body =
        new ZipStage(st, z.fn(), leftIn.channel, leftRegion, rightIn.channel, rightRegion, out);
    tasks.add(() -> scope.fork(st, body));
  }

  private StageBody body(
      Node node, StageCounters st, Channel<Object> in, Region upstream, Outlet out) {
    Node.Op op = node.op();
    ErrorPolicy policy = node.policy();
    java.time.Duration callTimeout = node.callTimeout();
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
      case Node.MapOp m ->
          new TransformStage(st, calls(st, policy, m.fn(), callTimeout), false, in, out);
      case Node.FilterOp f ->
          new TransformStage(
              st,
              calls(st, policy, x -> f.predicate().test(x) ? x : PolicyRunner.DROPPED, callTimeout),
              false,
              in,
              out);
      case Node.FlatMapOp f ->
          new TransformStage(st, calls(st, policy, f.fn()::apply, callTimeout), true, in, out);
      case Node.ConcurrentOp c ->
          new ConcurrentStage(
              scope,
              st,
              calls(st, policy, c.fn(), callTimeout),
              c.maxInFlight(),
              c.ordered(),
              in,
              out);
      case Node.BatchOp b -> new BatchStage(st, b.maxSize(), b.maxWait().toNanos(), in, out);
      case Node.TakeOp t -> LimitStage.take(st, t.n(), upstream, in, out);
      case Node.TakeWhileOp t -> LimitStage.takeWhile(st, t.predicate(), upstream, in, out);
      case Node.DropOp d -> LimitStage.drop(st, d.n(), in, out);
      case Node.ThrottleOp t ->
          new ThrottleStage(st, t.elements(), t.per().toNanos(), t.pacer(), in, out);
      case Node.PartitionedOp c ->
          new PartitionedStage(
              scope, st, c.key(), calls(st, policy, c.fn(), callTimeout), c.maxInFlight(), in, out);
      case Node.AlsoToOp a -> {
        StageCounters side = newStage(st.name + ".side", null, st.region);
        yield new AlsoToStage(scope, st, side, a.sink(), in, out);
      }
      case Node.MergeOp m -> throw new AssertionError(m);
      case Node.ZipOp z -> throw new AssertionError(z);
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
      StageCounters st,
      ErrorPolicy policy,
      ThrowingFunction<Object, Object> fn,
      java.time.Duration callTimeout) {
    return new PolicyRunner(scope, st, policy, fn, callTimeout);
  }

  /** Creates a stage's counters under a name unique in the run ({@code base}, else a suffix). */
  private StageCounters newStage(String base, Channel<Object> output, Region region) {
    String name = base;
    for (int i = 2; !names.add(name); i++) {
      name = base + "#" + i;
    }
    StageCounters st = new StageCounters(name, output, region);
    stages.add(st);
    return st;
  }
}
