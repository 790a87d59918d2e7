package io.millrace.pipeline;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiFunction;
import java.util.stream.Stream;

/**
 * A typed, concurrent data pipeline: a source, stages, and (when run) a sink, joined by bounded
 * buffers. A {@code Pipeline} is an immutable, lazy description: every operator returns a new one
 * and nothing runs until a terminal operation ({@link #forEach}, {@link #toList}, {@link #start}).
 *
 * <pre>{@code
 * List<String> out = Pipeline.from(List.of("FOO", "BAR", "BAX"))
 *     .map(String::toLowerCase)              // one thread, in order
 *     .mapConcurrent(8, s -> upload(s))      // <= 8 calls in flight, output in input order
 *     .named("upload")
 *     .toList();
 * }</pre>
 *
 * <h2>Guarantees of every run</h2>
 *
 * <ul>
 *   <li><b>Structured.</b> Each stage runs on its own virtual thread from the start, so a run
 *       cannot deadlock on its own hand-offs. A terminal operation returns or throws only after
 *       every thread the run started has ended: nothing outlives a run.
 *   <li><b>Bounded.</b> Stages are joined by buffers of {@link #DEFAULT_BUFFER_CAPACITY} elements
 *       unless {@link #buffer(int)} says otherwise. Each stage thread also holds at most one chunk
 *       of up to {@value #CHUNK} elements it took or is about to hand on (stages move elements in
 *       chunks to cut per-element locking). A slow stage holds back the ones before it; an endless
 *       source into a slow sink runs in constant memory.
 *   <li><b>Fail-fast.</b> The first exception from any stage (with the default {@link
 *       ErrorPolicy#fail()}) cancels the run; the terminal operation throws a {@link
 *       PipelineException} whose cause is that exception and whose message names the stage. Other
 *       failures seen while the run is being cancelled are attached as suppressed. Elements still
 *       inside the run when it fails or is cancelled (in buffers, or produced but not yet handed
 *       on) are dropped: the sink sees a prefix of the output, never more.
 *   <li><b>Cancellation.</b> {@link RunHandle#cancel()}, an interrupt of the thread blocked in
 *       {@link #forEach}/{@link #toList}, or a deadline ({@link #withTimeout}) stops the source,
 *       interrupts every user function in flight, fails every buffer, and ends the run with a
 *       {@link CancellationException} (whose message says if it timed out).
 *   <li><b>Runtime-owned channels.</b> Stages never close buffers by hand: the runtime closes each
 *       buffer when the last stage writing into it ends.
 * </ul>
 *
 * @param <T> the type of the elements this pipeline emits
 */
public final class Pipeline<T> {

  /** The capacity of the buffer after each stage unless {@link #buffer(int)} changes it. */
  public static final int DEFAULT_BUFFER_CAPACITY = 256;

  /** The most elements a stage thread moves from or to a buffer at once. */
  public static final int CHUNK = 64;

  private final Node node;
  private final Duration timeout;
  private final List<RunListener> listeners;

  private Pipeline(Node node, Duration timeout, List<RunListener> listeners) {
    this.node = node;
    this.timeout = timeout;
    this.listeners = listeners;
  }

  private static <T> Pipeline<T> source(Node.Op op) {
    return new Pipeline<>(Node.of(op, List.of()), null, List.of());
  }

  // ---------------------------------------------------------------- sources

  /**
   * A pipeline over the elements of {@code source}; each run iterates it afresh.
   *
   * @param source the elements, none null
   * @param <T> the element type
   * @return a new pipeline
   */
  public static <T> Pipeline<T> from(Iterable<? extends T> source) {
    Objects.requireNonNull(source, "source");
    return source(new Node.IterableSource(source));
  }

  /**
   * A pipeline over the elements of {@code source}. The stream is untouched until a run starts: the
   * run takes its iterator, on the source's thread, and closes the stream when it ends, however it
   * ends (done, failed, cancelled, timed out). It can run once. A pipeline that is never run leaves
   * the stream to its caller.
   *
   * @param source the elements, none null
   * @param <T> the element type
   * @return a new pipeline
   */
  public static <T> Pipeline<T> from(Stream<? extends T> source) {
    Objects.requireNonNull(source, "source");
    return source(new Node.OnceSource(source::iterator, source::close, new AtomicBoolean()));
  }

  /**
   * A pipeline over the remaining elements of {@code source}. It can run once.
   *
   * @param source the elements, none null; {@code hasNext} may block (it is interrupted on cancel)
   * @param <T> the element type
   * @return a new pipeline
   */
  public static <T> Pipeline<T> from(Iterator<? extends T> source) {
    Objects.requireNonNull(source, "source");
    return source(new Node.OnceSource(() -> source, null, new AtomicBoolean()));
  }

  /**
   * A pipeline over what is sent to {@code source} until it is closed and drained. A channel ended
   * with {@link Channel#fail(Throwable)} fails the run with that cause. The run never closes the
   * channel: its producer owns it. So if the run fails or is cancelled, a producer blocked in
   * {@link Channel#send} stays blocked until it is interrupted or the channel is closed: end it
   * from a {@link RunListener#onEnd} (for example {@code source.fail(failure)}) or give it its own
   * deadline. The source takes up to {@link #CHUNK} buffered elements at a time, so several runs
   * reading one channel do not share it evenly; for fan-out use {@link #mapConcurrent}.
   *
   * @param source the channel to receive from
   * @param <T> the element type
   * @return a new pipeline
   */
  public static <T> Pipeline<T> from(Channel<? extends T> source) {
    Objects.requireNonNull(source, "source");
    return source(new Node.ChannelSource(source));
  }

  /**
   * An endless pipeline of the values {@code supplier} returns; it runs until cancelled, timed out,
   * or failed.
   *
   * @param supplier called on the source's thread; may block (it is interrupted on cancel)
   * @param <T> the element type
   * @return a new pipeline
   */
  public static <T> Pipeline<T> generate(ThrowingSupplier<? extends T> supplier) {
    Objects.requireNonNull(supplier, "supplier");
    return source(new Node.GenerateSource(supplier));
  }

  /**
   * Fans in: a pipeline that emits what each of {@code pipelines} emits, in no set order between
   * them, and ends when all of them have ended. Their timeouts and listeners are ignored.
   *
   * @param pipelines at least one
   * @param <T> the element type
   * @return a new pipeline
   */
  @SafeVarargs
  public static <T> Pipeline<T> merge(Pipeline<? extends T>... pipelines) {
    return merge(List.of(pipelines));
  }

  /**
   * Fans in, like {@link #merge(Pipeline[])}, from a list (for example one pipeline per core).
   *
   * @param pipelines at least one
   * @param <T> the element type
   * @return a new pipeline
   */
  public static <T> Pipeline<T> merge(List<? extends Pipeline<? extends T>> pipelines) {
    if (pipelines.isEmpty()) {
      throw new IllegalArgumentException("merge needs at least one pipeline");
    }
    List<Node> inputs = new ArrayList<>(pipelines.size());
    for (Pipeline<? extends T> p : pipelines) {
      inputs.add(Objects.requireNonNull(p, "pipeline").node);
    }
    return new Pipeline<>(Node.of(new Node.MergeOp(), inputs), null, List.of());
  }

  // ---------------------------------------------------------------- operators

  @SuppressWarnings("unchecked")
  private <R> Pipeline<R> then(Node.Op op) {
    return new Pipeline<>(Node.of(op, List.of(node)), timeout, listeners);
  }

  /**
   * Applies {@code fn} to each element on one thread, in order.
   *
   * @param fn the function; a {@code null} result fails the stage
   * @param <R> the result type
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public <R> Pipeline<R> map(ThrowingFunction<? super T, ? extends R> fn) {
    return then(new Node.MapOp((ThrowingFunction<Object, Object>) fn));
  }

  /**
   * Applies {@code fn} to each element with at most {@code maxInFlight} calls running at once, on
   * up to {@code maxInFlight} worker virtual threads, and emits the results in input order. Workers
   * are started only as the calls in flight grow (one per element ready to be called while every
   * worker is busy) and each runs one call after the other until the input ends; so there are never
   * more than {@code maxInFlight}, and a call does not get a thread of its own ({@code
   * ThreadLocal}s carry over between calls on one worker). A completed result waits for those
   * before it, and those waiting count against {@code maxInFlight} too, so memory stays bounded.
   * Cancelling or failing the run interrupts every worker, busy or idle.
   *
   * @param maxInFlight the most calls at once, at least 1
   * @param fn the function; a {@code null} result fails the stage
   * @param <R> the result type
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public <R> Pipeline<R> mapConcurrent(
      int maxInFlight, ThrowingFunction<? super T, ? extends R> fn) {
    return then(new Node.ConcurrentOp(maxInFlight, true, (ThrowingFunction<Object, Object>) fn));
  }

  /**
   * Like {@link #mapConcurrent}, but emits each result as soon as its call completes.
   *
   * @param maxInFlight the most calls at once, at least 1
   * @param fn the function; a {@code null} result fails the stage
   * @param <R> the result type
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public <R> Pipeline<R> mapConcurrentUnordered(
      int maxInFlight, ThrowingFunction<? super T, ? extends R> fn) {
    return then(new Node.ConcurrentOp(maxInFlight, false, (ThrowingFunction<Object, Object>) fn));
  }

  /**
   * Keeps the elements {@code predicate} accepts.
   *
   * @param predicate the test
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public Pipeline<T> filter(ThrowingPredicate<? super T> predicate) {
    return then(new Node.FilterOp((ThrowingPredicate<Object>) predicate));
  }

  /**
   * Replaces each element by the elements of the iterable {@code fn} returns, in order.
   *
   * @param fn the function
   * @param <R> the result element type
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public <R> Pipeline<R> flatMap(ThrowingFunction<? super T, ? extends Iterable<? extends R>> fn) {
    return then(new Node.FlatMapOp((ThrowingFunction<Object, Iterable<?>>) (Object) fn));
  }

  /**
   * Groups elements into lists: a batch is emitted when it holds {@code maxSize} elements, or
   * {@code maxWait} after its first element arrived, whichever comes first; the last partial batch
   * is emitted at the end of the input. Batches are never empty.
   *
   * @param maxSize the most elements in a batch, at least 1
   * @param maxWait the longest a batch waits for more elements after its first, positive
   * @return a new pipeline of batches
   */
  public Pipeline<List<T>> batch(int maxSize, Duration maxWait) {
    return then(new Node.BatchOp(maxSize, maxWait));
  }

  /**
   * Sets the capacity of the buffer after the last stage.
   *
   * @param capacity at least 1
   * @return a new pipeline
   */
  public Pipeline<T> buffer(int capacity) {
    return new Pipeline<>(node.withCapacity(capacity), timeout, listeners);
  }

  /**
   * Sets the error policy of the last stage, which must call a function ({@code map}, {@code
   * mapConcurrent}, {@code mapConcurrentUnordered}, {@code mapConcurrentPartitioned}, {@code
   * filter}, {@code flatMap}).
   *
   * @param policy the policy
   * @return a new pipeline
   * @throws IllegalStateException if the last stage calls no function
   */
  public Pipeline<T> onError(ErrorPolicy policy) {
    Objects.requireNonNull(policy, "policy");
    requireFunction("onError");
    return new Pipeline<>(node.withPolicy(policy), timeout, listeners);
  }

  /**
   * Names the last stage, as shown in {@link StageStats} and {@link PipelineException}.
   *
   * @param name not blank; names should be unique within a pipeline (a repeat gets a suffix)
   * @return a new pipeline
   */
  public Pipeline<T> named(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isBlank()) {
      throw new IllegalArgumentException("stage name must not be blank");
    }
    return new Pipeline<>(node.withName(name), timeout, listeners);
  }

  /**
   * Sets a deadline for each run: a run still going {@code timeout} after it started is cancelled
   * and ends with a {@link CancellationException} whose message says it timed out (its cause is a
   * {@link java.util.concurrent.TimeoutException}).
   *
   * @param timeout positive
   * @return a new pipeline
   */
  public Pipeline<T> withTimeout(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, was " + timeout);
    }
    return new Pipeline<>(node, timeout, listeners);
  }

  /**
   * Adds a listener told of each run's start and end.
   *
   * @param listener the listener
   * @return a new pipeline
   */
  public Pipeline<T> withListener(RunListener listener) {
    Objects.requireNonNull(listener, "listener");
    List<RunListener> all = new ArrayList<>(listeners);
    all.add(listener);
    return new Pipeline<>(node, timeout, Collections.unmodifiableList(all));
  }

  // ---------------------------------------------------------------- more operators (issue 11)

  /**
   * Passes on the first {@code n} elements, then ends: once the {@code n}-th element is handed on
   * (at once for {@code n = 0}), every stage upstream of this one, the source included, is stopped
   * (its threads are interrupted, its buffers failed) and this stage's output ends normally, so the
   * run goes on downstream and ends as a success. What the stopped stages throw from then on is
   * dropped; their elements not yet taken are dropped too (the source may have produced, and
   * upstream functions may have been called for, elements beyond the {@code n}-th). As always, the
   * terminal operation returns only after the stopped threads have ended. A shorter input ends the
   * output after all of it. Also a way to end an endless {@link #generate} source normally.
   *
   * @param n the most elements to pass on, not negative
   * @return a new pipeline
   */
  public Pipeline<T> take(long n) {
    return then(new Node.TakeOp(n));
  }

  /**
   * Passes elements on while {@code predicate} accepts them; at the first it rejects (which is not
   * passed on) it stops its upstream and ends, as {@link #take(long)} does.
   *
   * @param predicate called on this stage's thread, in order; if it throws, the run fails ({@link
   *     #onError} does not apply)
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public Pipeline<T> takeWhile(ThrowingPredicate<? super T> predicate) {
    return then(new Node.TakeWhileOp((ThrowingPredicate<Object>) predicate));
  }

  /**
   * Drops the first {@code n} elements and passes the rest on.
   *
   * @param n how many to drop, not negative
   * @return a new pipeline
   */
  public Pipeline<T> drop(long n) {
    return then(new Node.DropOp(n));
  }

  /**
   * Limits the rate: in any span of time {@code per} long, at most {@code elements} elements are
   * handed on (a sliding window, not fixed intervals; a burst of up to {@code elements} goes
   * through at once). The stage hands elements on one at a time and, when the limit is reached,
   * sleeps until the oldest element of the window is {@code per} in the past; a cancel interrupts
   * that sleep. The stage keeps one timestamp per element of the limit (8 bytes each). Elements
   * wait in the buffer before the stage, so a slow rate holds back the stages before it.
   *
   * @param elements the most elements per span, at least 1
   * @param per the span, positive
   * @return a new pipeline
   */
  public Pipeline<T> throttle(int elements, Duration per) {
    return throttle(elements, per, Pacer.SYSTEM);
  }

  /** {@link #throttle(int, Duration)} with its clock and sleep injected (tests). */
  Pipeline<T> throttle(int elements, Duration per, Pacer pacer) {
    return then(new Node.ThrottleOp(elements, per, pacer));
  }

  /**
   * Applies {@code fn} concurrently, at most one call per key at a time: at most {@code
   * maxInFlight} calls in flight, each on its own virtual thread, never two at once for elements
   * with equal keys ({@link Object#equals}), and each key's results handed on in the input order of
   * its elements. Results of different keys are handed on as they complete, in no set order between
   * keys (unlike Pekko's {@code mapAsyncPartitioned}, which keeps the whole input order).
   *
   * <p>Bounded: besides the calls in flight, at most {@code maxInFlight} elements wait for their
   * key to be free. When that many wait, or {@code maxInFlight} calls run and the next element's
   * key is free, the stage stops reading its input until a call ends: a hot key holds the input
   * back (back-pressure) rather than growing a queue. A call whose key has elements waiting hands
   * on its result and goes on with the next of them on the same thread; there are never more call
   * threads than {@code maxInFlight}.
   *
   * <p>{@link #onError} and {@link #timeoutEach} apply to {@code fn}. If {@code key} throws or
   * returns null, the run fails.
   *
   * @param maxInFlight the most calls at once, at least 1
   * @param key gives an element's key; called on the stage's thread, in input order
   * @param fn the function; a {@code null} result fails the stage
   * @param <R> the result type
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public <R> Pipeline<R> mapConcurrentPartitioned(
      int maxInFlight,
      ThrowingFunction<? super T, ?> key,
      ThrowingFunction<? super T, ? extends R> fn) {
    return then(
        new Node.PartitionedOp(
            maxInFlight,
            (ThrowingFunction<Object, Object>) key,
            (ThrowingFunction<Object, Object>) fn));
  }

  /**
   * Passes every element on and also hands it to {@code sink}, a side sink that runs on a thread of
   * its own (a stage named after this one with {@code .side}) and receives the elements in order,
   * through a buffer of this stage's capacity. Back-pressure is shared: a slow side sink fills that
   * buffer and then holds this stage back. If {@code sink} throws, the run fails. On the run's end
   * the side sink has seen every element this stage passed on, unless the run failed or was
   * cancelled (or a {@link #take} downstream stopped it early): then it sees a prefix.
   *
   * @param sink the side consumer; may block (it is interrupted on cancel)
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public Pipeline<T> alsoTo(ThrowingConsumer<? super T> sink) {
    return then(new Node.AlsoToOp((ThrowingConsumer<Object>) sink));
  }

  /**
   * Pairs this pipeline's elements with {@code other}'s: emits {@code fn(a_i, b_i)} for the i-th
   * element of each, in order, and ends when either ends; the other is then stopped (as upstream of
   * {@link #take}) and the run ends as a success. Each side runs its stages on its own threads,
   * with its own buffer into the zip. {@code other}'s timeout and listeners are ignored.
   *
   * @param other the second input
   * @param fn combines a pair, on the zip's thread; if it throws or returns null, the run fails
   * @param <U> the element type of {@code other}
   * @param <R> the result type
   * @return a new pipeline
   */
  @SuppressWarnings("unchecked")
  public <U, R> Pipeline<R> zip(
      Pipeline<? extends U> other, BiFunction<? super T, ? super U, ? extends R> fn) {
    Objects.requireNonNull(other, "other");
    Objects.requireNonNull(fn, "fn");
    Node.ZipOp op = new Node.ZipOp((BiFunction<Object, Object, Object>) (Object) fn);
    return new Pipeline<>(Node.of(op, List.of(node, other.node)), timeout, listeners);
  }

  /**
   * Limits each call of the last stage's function to {@code timeout}: a call still running then is
   * interrupted and fails with a {@link java.util.concurrent.TimeoutException} (whatever it returns
   * or throws once interrupted), which the stage's {@link ErrorPolicy} then handles like any
   * failure (fail the run, skip, retry: each attempt has its own timeout, divert). The last stage
   * must call a function, as for {@link #onError}. Each call gets a watcher, a virtual thread of
   * the run that sleeps out the timeout, so a stage with a timeout runs up to twice as many threads
   * as calls in flight. A function that ignores interrupts runs on to its end and then fails with
   * the timeout.
   *
   * @param timeout positive
   * @return a new pipeline
   * @throws IllegalStateException if the last stage calls no function
   */
  public Pipeline<T> timeoutEach(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeoutEach must be positive, was " + timeout);
    }
    requireFunction("timeoutEach");
    return new Pipeline<>(node.withCallTimeout(timeout), this.timeout, listeners);
  }

  private void requireFunction(String what) {
    if (!node.op().hasFunction()) {
      throw new IllegalStateException(
          what
              + " applies to map, mapConcurrent, mapConcurrentUnordered, mapConcurrentPartitioned,"
              + " filter and flatMap; the last stage is "
              + node.op().kind());
    }
  }

  // ---------------------------------------------------------------- terminal operations

  /**
   * Starts a run that hands every element to {@code sink} (on one thread of the run, in order) and
   * returns at once.
   *
   * @param sink the consumer; if it throws, the run fails
   * @return the running pipeline
   * @throws IllegalStateException if this pipeline's one-shot source was already used
   */
  @SuppressWarnings("unchecked")
  public RunHandle<T> start(ThrowingConsumer<? super T> sink) {
    Objects.requireNonNull(sink, "sink");
    return Run.start(node, timeout, listeners, (ThrowingConsumer<Object>) sink);
  }

  /**
   * Runs the pipeline to completion, handing every element to {@code sink} in order.
   *
   * <p>Blocks. If the calling thread is interrupted, the run is cancelled; this method still waits
   * until every thread of the run has ended, then throws {@link CancellationException} with the
   * thread's interrupt flag set.
   *
   * @param sink the consumer; runs on a thread of the run, not the caller's
   * @throws PipelineException if a stage (or the sink) failed
   * @throws CancellationException if the run was cancelled, timed out, or the caller interrupted
   */
  public void forEach(ThrowingConsumer<? super T> sink) {
    ((Run<T>) start(sink)).joinCancellingOnInterrupt();
  }

  /**
   * Runs the pipeline to completion and collects what it emits, in order.
   *
   * @return the elements
   * @throws PipelineException if a stage failed
   * @throws CancellationException if the run was cancelled, timed out, or the caller interrupted
   * @see #forEach(ThrowingConsumer)
   */
  public List<T> toList() {
    List<T> out = new ArrayList<>();
    forEach(out::add);
    return out; // the run's end happens-before join's return
  }

  // ---------------------------------------------------------------- Reactive Streams (Flow)

  /**
   * A pipeline over what {@code publisher} emits: a Reactive Streams ({@link Flow}) subscriber as a
   * source. Each run subscribes afresh when its source starts (whether a second subscription works
   * is up to the publisher).
   *
   * <ul>
   *   <li><b>Demand follows back-pressure.</b> The source asks for as many elements as the buffer
   *       after it holds ({@link #DEFAULT_BUFFER_CAPACITY}, or what {@link #buffer(int)} set on the
   *       source; for a {@link #merge} input, the merged buffer's), and each time half of that has
   *       moved on into the buffer it asks for that much more. So at most that many elements are
   *       requested and not yet in the buffer; nothing is requested unbounded; a slow stage slows
   *       the publisher down.
   *   <li><b>Ends.</b> {@code onComplete} ends the source once what arrived is handed on; {@code
   *       onError(t)} fails the run at once: the terminal operation throws a {@link
   *       PipelineException} whose cause is {@code t}.
   *   <li><b>Cancellation.</b> When the run stops (cancel, deadline, interrupt, a stage's failure)
   *       the source cancels its subscription, unless the publisher had already ended it.
   *   <li><b>Threads.</b> Signals may come on any thread; they only queue, never block. Every
   *       {@code request} and {@code cancel} is made by the source's thread (rule 2.7).
   *   <li><b>A publisher that breaks the spec fails the run</b> (and its subscription is
   *       cancelled): more elements than requested (rule 1.1, {@link IllegalStateException}), a
   *       {@code null} signal (rule 2.13: the call throws {@link NullPointerException}, also the
   *       run's cause), or a {@code subscribe} that throws. A second {@code onSubscribe} is
   *       cancelled (rule 2.5); signals after the subscription ended are ignored.
   * </ul>
   *
   * <p>The subscriber passes the Reactive Streams TCK 1.0.4 (blackbox and whitebox subscriber
   * verifications).
   *
   * @param publisher the publisher to subscribe to on each run
   * @param <T> the element type
   * @return a new pipeline
   */
  public static <T> Pipeline<T> from(Flow.Publisher<? extends T> publisher) {
    Objects.requireNonNull(publisher, "publisher");
    return source(new Node.PublisherSource(publisher));
  }

  /**
   * This pipeline as a Reactive Streams ({@link Flow}) publisher: each subscription runs the
   * pipeline afresh, its sink handing elements to the subscriber.
   *
   * <ul>
   *   <li><b>Start.</b> {@code subscribe} calls {@code onSubscribe} on the calling thread, then
   *       starts the run (unless the subscriber cancelled in {@code onSubscribe}). The run fills
   *       its bounded buffers ahead of demand, as any run does; a run that cannot start (a one-shot
   *       source, {@link #from(Stream)} or {@link #from(Iterator)}, already used) signals {@code
   *       onError} with the {@link IllegalStateException}. {@code subscribe(null)} throws {@link
   *       NullPointerException}.
   *   <li><b>Demand drives it.</b> No {@code onNext} beyond what was requested; while demand is 0
   *       the run's sink waits, its buffers fill and the source is held back. Demand adds up and
   *       saturates: {@code Long.MAX_VALUE} (or a sum past it) means unbounded.
   *   <li><b>Signals.</b> Every {@code onNext} comes from the run's sink thread, one at a time;
   *       {@code onComplete} (the run succeeded) or {@code onError} (it failed: its {@link
   *       PipelineException}; it timed out: its {@link CancellationException}) comes after the last
   *       {@code onNext}, once every thread of the run has ended, on the run's last thread (or on
   *       the subscribing thread after {@code onSubscribe}, if the run ended that fast). Terminal
   *       signals need no demand.
   *   <li><b>Reentrancy.</b> {@code request} and {@code cancel} may be called from any thread,
   *       including from within {@code onNext} or {@code onSubscribe}; they never call the
   *       subscriber, so there is no recursion.
   *   <li><b>Cancel</b> cancels the run ({@link RunHandle#cancel()}): its threads end, no further
   *       signal is made (an {@code onNext} already under way may finish), and the subscriber is no
   *       longer referenced. Later {@code request} and {@code cancel} calls do nothing.
   *   <li><b>{@code request(n)} with {@code n <= 0}</b> cancels the run and signals {@code
   *       onError(IllegalArgumentException)} (rule 3.9).
   *   <li><b>A subscriber that throws</b> (rule 2.13) has its subscription cancelled; what it threw
   *       goes to the uncaught-exception handler of the thread that called it. If {@code
   *       onSubscribe} throws, no run starts and {@code subscribe} throws it on.
   * </ul>
   *
   * <p>The publisher passes the Reactive Streams TCK 1.0.4 publisher verification.
   *
   * @return a publisher; each {@code subscribe} is a new run of this pipeline, with its timeout and
   *     listeners
   */
  public Flow.Publisher<T> toPublisher() {
    return new PipelinePublisher<>(this);
  }

  /**
   * Runs the pipeline to completion and folds what it emits, in order: {@code fn(...fn(fn(initial,
   * e1), e2)..., en)}. Blocks, and handles interrupts and failures as {@link #forEach} does.
   *
   * @param initial the start value (returned for an empty input)
   * @param fn the accumulator; runs on a thread of the run, one element at a time; if it throws,
   *     the run fails
   * @param <R> the result type
   * @return the folded value
   * @throws PipelineException if a stage (or {@code fn}) failed
   * @throws CancellationException if the run was cancelled, timed out, or the caller interrupted
   */
  public <R> R fold(R initial, BiFunction<R, ? super T, R> fn) {
    Objects.requireNonNull(fn, "fn");
    Object[] acc = {initial};
    forEach(
        v -> {
          @SuppressWarnings("unchecked")
          R r = (R) acc[0];
          acc[0] = fn.apply(r, v);
        });
    @SuppressWarnings("unchecked")
    R result = (R) acc[0]; // the run's end happens-before join's return
    return result;
  }

  /**
   * Runs the pipeline to completion and counts what it emits. Blocks, as {@link #forEach} does.
   *
   * @return the number of elements
   * @throws PipelineException if a stage failed
   * @throws CancellationException if the run was cancelled, timed out, or the caller interrupted
   */
  public long count() {
    long[] n = {0};
    forEach(v -> n[0]++);
    return n[0];
  }

  /**
   * Starts a run that sends every element to {@code channel}, in order, and returns at once (as
   * {@link #start} does: the caller typically reads the channel meanwhile, and a blocking version
   * would deadlock a caller that reads it on the same thread). When the run ends the channel is
   * closed if the run succeeded, or failed ({@link Channel#fail}) with the exception the run ends
   * with (a {@link PipelineException} or {@link CancellationException}), so a reader's {@code
   * receive} throws {@link ChannelClosedException} with it as cause; this happens before the run
   * counts as done (before {@link RunHandle#join} returns) and before the run's own listeners are
   * told. A send blocked on a full channel holds the run back, and is interrupted by a cancel. If
   * someone else closes the channel first, the next send fails the run. If the run cannot start (a
   * one-shot source already used), the channel is failed with that exception too.
   *
   * @param channel receives the elements; the run closes or fails it at the end
   * @return the running pipeline
   * @throws IllegalStateException if this pipeline's one-shot source was already used
   */
  @SuppressWarnings("unchecked")
  public RunHandle<T> runTo(Channel<? super T> channel) {
    Objects.requireNonNull(channel, "channel");
    RunListener closer =
        new RunListener() {
          @Override
          public void onEnd(RunHandle<?> run, PipelineStats finalStats, Throwable failure) {
            if (failure == null) {
              channel.close();
            } else {
              channel.fail(failure);
            }
          }
        };
    List<RunListener> all = new ArrayList<>(listeners.size() + 1);
    all.add(closer);
    all.addAll(listeners);
    Channel<Object> ch = (Channel<Object>) channel;
    try {
      return Run.start(node, timeout, all, ch::send);
    } catch (RuntimeException e) {
      channel.fail(e);
      throw e;
    }
  }

  @Override
  public String toString() {
    return "Pipeline[" + node.describe() + "]";
  }
}
