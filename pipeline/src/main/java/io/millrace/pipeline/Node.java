package io.millrace.pipeline;

import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * One stage of a pipeline description: what it does ({@link Op}), where its input comes from, and
 * the settings that {@code named}, {@code onError} and {@code buffer} put on it. Immutable; each
 * record checks its arguments, so a description that exists can run.
 *
 * @param op what the stage does
 * @param inputs upstream nodes: none for a source, one for a transform, many for a merge
 * @param name the name given by {@link Pipeline#named(String)}, or {@code null} for the default
 * @param policy the error policy for the stage's function
 * @param capacity the capacity of the buffer after this stage
 * @param callTimeout the longest one call of the stage's function may take ({@link
 *     Pipeline#timeoutEach}), or {@code null} for no limit
 */
record Node(
    Op op, List<Node> inputs, String name, ErrorPolicy policy, int capacity, Duration callTimeout) {

  Node {
    if (capacity < 1) {
      throw new IllegalArgumentException("buffer capacity must be >= 1, was " + capacity);
    }
  }

  /** {@return a stage with the defaults: no name, fail-fast, the default buffer capacity} */
  static Node of(Op op, List<Node> inputs) {
    return new Node(op, inputs, null, ErrorPolicy.fail(), Pipeline.DEFAULT_BUFFER_CAPACITY, null);
  }

  Node withName(String newName) {
    return new Node(op, inputs, newName, policy, capacity, callTimeout);
  }

  Node withPolicy(ErrorPolicy newPolicy) {
    return new Node(op, inputs, name, newPolicy, capacity, callTimeout);
  }

  Node withCapacity(int newCapacity) {
    return new Node(op, inputs, name, policy, newCapacity, callTimeout);
  }

  Node withCallTimeout(Duration newTimeout) {
    return new Node(op, inputs, name, policy, capacity, newTimeout);
  }

  /** {@return this stage and those before it, as {@link Pipeline#toString()} shows them} */
  String describe() {
    String self = name != null ? op.kind() + "(" + name + ")" : op.kind();
    if (inputs.isEmpty()) {
      return self;
    }
    if (inputs.size() == 1) {
      return inputs.get(0).describe() + " -> " + self;
    }
    return self + inputs.stream().map(Node::describe).toList();
  }

  /** What a stage does: a closed set, so the runtime's {@code switch} covers every kind. */
  sealed interface Op {
    /** The default name prefix of a stage of this kind. */
    String kind();

    /** Whether {@link Pipeline#onError(ErrorPolicy)} applies: the stage calls a user function. */
    default boolean hasFunction() {
      return false;
    }
  }

  /** A source: gives the elements of a fresh iterator per run. */
  record IterableSource(Iterable<?> iterable) implements Op {
    @Override
    public String kind() {
      return "source";
    }
  }

  /**
   * A one-shot source (an {@link Iterator} or a {@link java.util.stream.Stream}): a second run
   * fails at start.
   *
   * @param iterator gives the iterator; called on the source's thread when its run starts
   * @param onEnd closed when that run ends, however it ends, or {@code null}
   * @param used set by the first run
   */
  record OnceSource(
      Supplier<? extends Iterator<?>> iterator, AutoCloseable onEnd, AtomicBoolean used)
      implements Op {
    @Override
    public String kind() {
      return "source";
    }
  }

  /** A source that drains a channel until it is closed. */
  record ChannelSource(Channel<?> channel) implements Op {
    @Override
    public String kind() {
      return "source";
    }
  }

  /**
   * A source that subscribes to a {@link Flow.Publisher} when its run starts (a fresh subscription
   * per run). See {@link PublisherSourceStage}.
   */
  record PublisherSource(Flow.Publisher<?> publisher) implements Op {
    PublisherSource {
      Objects.requireNonNull(publisher, "publisher");
    }

    @Override
    public String kind() {
      return "source";
    }
  }

  /** An endless source. */
  record GenerateSource(ThrowingSupplier<?> supplier) implements Op {
    @Override
    public String kind() {
      return "generate";
    }
  }

  /** One element in, one out, in order, one thread. */
  record MapOp(ThrowingFunction<Object, Object> fn) implements Op {
    MapOp {
      Objects.requireNonNull(fn, "fn");
    }

    @Override
    public String kind() {
      return "map";
    }

    @Override
    public boolean hasFunction() {
      return true;
    }
  }

  /** Keeps the elements the predicate accepts. */
  record FilterOp(ThrowingPredicate<Object> predicate) implements Op {
    FilterOp {
      Objects.requireNonNull(predicate, "predicate");
    }

    @Override
    public String kind() {
      return "filter";
    }

    @Override
    public boolean hasFunction() {
      return true;
    }
  }

  /** One element in, any number out. */
  record FlatMapOp(ThrowingFunction<Object, Iterable<?>> fn) implements Op {
    FlatMapOp {
      Objects.requireNonNull(fn, "fn");
    }

    @Override
    public String kind() {
      return "flatMap";
    }

    @Override
    public boolean hasFunction() {
      return true;
    }
  }

  /** At most {@code maxInFlight} calls at once, each on its own virtual thread. */
  record ConcurrentOp(int maxInFlight, boolean ordered, ThrowingFunction<Object, Object> fn)
      implements Op {
    ConcurrentOp {
      if (maxInFlight < 1) {
        throw new IllegalArgumentException("maxInFlight must be >= 1, was " + maxInFlight);
      }
      Objects.requireNonNull(fn, "fn");
    }

    @Override
    public String kind() {
      return ordered ? "mapConcurrent" : "mapConcurrentUnordered";
    }

    @Override
    public boolean hasFunction() {
      return true;
    }
  }

  /** Groups elements into lists by size and age. */
  record BatchOp(int maxSize, Duration maxWait) implements Op {
    BatchOp {
      if (maxSize < 1) {
        throw new IllegalArgumentException("batch maxSize must be >= 1, was " + maxSize);
      }
      Objects.requireNonNull(maxWait, "maxWait");
      if (maxWait.isNegative() || maxWait.isZero()) {
        throw new IllegalArgumentException("batch maxWait must be positive, was " + maxWait);
      }
    }

    @Override
    public String kind() {
      return "batch";
    }
  }

  /** Fans in: every input writes into the same buffer. Runs no thread of its own. */
  record MergeOp() implements Op {
    @Override
    public String kind() {
      return "merge";
    }
  }

  // ---- the operators of issue 11 (take, takeWhile, drop, throttle, mapConcurrentPartitioned,
  // alsoTo, zip) ----

  /** Passes the first {@code n} elements on, then cuts its upstream and ends. */
  record TakeOp(long n) implements Op {
    TakeOp {
      if (n < 0) {
        throw new IllegalArgumentException("take n must be >= 0, was " + n);
      }
    }

    @Override
    public String kind() {
      return "take";
    }
  }

  /** Passes elements on while the predicate holds, then cuts its upstream and ends. */
  record TakeWhileOp(ThrowingPredicate<Object> predicate) implements Op {
    TakeWhileOp {
      Objects.requireNonNull(predicate, "predicate");
    }

    @Override
    public String kind() {
      return "takeWhile";
    }
  }

  /** Drops the first {@code n} elements, passes the rest on. */
  record DropOp(long n) implements Op {
    DropOp {
      if (n < 0) {
        throw new IllegalArgumentException("drop n must be >= 0, was " + n);
      }
    }

    @Override
    public String kind() {
      return "drop";
    }
  }

  /** At most {@code elements} elements handed on in any span of {@code per}. */
  record ThrottleOp(int elements, Duration per, Pacer pacer) implements Op {
    ThrottleOp {
      if (elements < 1) {
        throw new IllegalArgumentException("throttle elements must be >= 1, was " + elements);
      }
      Objects.requireNonNull(per, "per");
      if (per.isNegative() || per.isZero()) {
        throw new IllegalArgumentException("throttle per must be positive, was " + per);
      }
      Objects.requireNonNull(pacer, "pacer");
    }

    @Override
    public String kind() {
      return "throttle";
    }
  }

  /** At most {@code maxInFlight} calls at once and one per key; in order within a key. */
  record PartitionedOp(
      int maxInFlight, ThrowingFunction<Object, Object> key, ThrowingFunction<Object, Object> fn)
      implements Op {
    PartitionedOp {
      if (maxInFlight < 1) {
        throw new IllegalArgumentException("maxInFlight must be >= 1, was " + maxInFlight);
      }
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(fn, "fn");
    }

    @Override
    public String kind() {
      return "mapConcurrentPartitioned";
    }

    @Override
    public boolean hasFunction() {
      return true;
    }
  }

  /** Hands every element to a side sink on its own thread, and passes it on. */
  record AlsoToOp(ThrowingConsumer<Object> sink) implements Op {
    AlsoToOp {
      Objects.requireNonNull(sink, "sink");
    }

    @Override
    public String kind() {
      return "alsoTo";
    }
  }

  /** Pairs the i-th elements of its two inputs; ends when either ends. */
  record ZipOp(java.util.function.BiFunction<Object, Object, Object> fn) implements Op {
    ZipOp {
      Objects.requireNonNull(fn, "fn");
    }

    @Override
    public String kind() {
      return "zip";
    }
  }
}
