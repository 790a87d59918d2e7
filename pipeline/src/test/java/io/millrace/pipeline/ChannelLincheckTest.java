package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Method;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.LincheckAssertionError;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Lincheck tests of {@link Channel} against a sequential specification ({@link ChannelSpec}: an
 * {@code ArrayDeque} with a capacity, a closed flag and a failure), for rendezvous and buffered
 * capacities 1 and 2.
 *
 * <ul>
 *   <li><b>Non-blocking operations</b> ({@code trySend}, {@code poll()}, {@code close}, {@code
 *       fail}, {@code isClosed}, {@code size}) in scenarios Lincheck generates, by model checking
 *       (Lincheck explores interleavings down to the ReentrantLock and Condition internals) and by
 *       stress. On a rendezvous channel nobody is ever blocked in {@code receive()} here, so {@code
 *       trySend} must return false (or report the close) and {@code poll()} null.
 *   <li><b>Blocking {@code send}/{@code receive}</b> mixed with the above, by model checking. A
 *       correct channel may block forever in some scenarios (a {@code receive()} nobody sends to),
 *       which Lincheck reports as a deadlock; so these scenarios are hand-written ({@link
 *       Scenario#classics}) or generated and kept only if no interleaving of the specification can
 *       leave a thread blocked for good ({@link Scenario#mustComplete}). A hang the model checker
 *       finds is then a lost wake-up; results must be linearizable with each blocking call taking
 *       effect at a moment the specification lets it proceed (the specification returns {@link
 *       #WOULD_BLOCK}, which no real call does, for a send to a full buffer or a receive from an
 *       empty open one). {@link #modelCheckerReportsAReceiveThatCanNeverCompleteAsAHang} shows
 *       hangs are detected.
 * </ul>
 *
 * <p>Exceptions are mapped to values the specification can produce: {@link ChannelClosedException}
 * without a cause is {@code "closed"}, with the cause given to {@code fail(n)} it is {@code
 * "failed(n)"}. Scale with {@code -Dmillrace.stress.iterations=N} (default 300; each test stays
 * under 10 s by default, the timeout below leaves room for about 5x); {@code
 * -Dmillrace.lincheck.seed=S} picks other generated blocking scenarios.
 */
@Timeout(120)
class ChannelLincheckTest {

  static final String OK = "ok";
  static final String CLOSED = "closed";

  /** What the specification returns for a blocking call that cannot proceed in that state. */
  static final String WOULD_BLOCK = "would-block";

  /** What {@code sendAlone} returns if a rendezvous send returned before its element was taken. */
  static final String RETURNED_UNTAKEN = "returned-before-taken";

  static String failed(int cause) {
    return "failed(" + cause + ")";
  }

  static String ended(ChannelClosedException e) {
    return e.getCause() == null ? CLOSED : failed(((Failure) e.getCause()).id);
  }

  /** The cause given to {@code fail}; identified by number so the specification can name it. */
  static final class Failure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int id;

    Failure(int id) {
      super("failure " + id, null, false, false);
      this.id = id;
    }
  }

  // ---- the operations under test; Lincheck makes a fresh instance (a fresh channel) per run ----

  @Param(name = "value", gen = IntGen.class, conf = "1:3")
  @Param(name = "cause", gen = IntGen.class, conf = "1:2")
  public abstract static class ChannelOps {
    private final Channel<Integer> ch;

    ChannelOps(int capacity) {
      ch = capacity == 0 ? Channel.rendezvous() : Channel.buffered(capacity);
    }

    @Operation(params = "value")
    public Object trySend(int value) {
      try {
        return ch.trySend(value);
      } catch (ChannelClosedException e) {
        return ended(e);
      }
    }

    @Operation
    public Object poll() {
      try {
        return ch.poll();
      } catch (ChannelClosedException e) {
        return ended(e);
      }
    }

    @Operation
    public void close() {
      ch.close();
    }

    @Operation(params = "cause")
    public void fail(int cause) {
      ch.fail(new Failure(cause));
    }

    @Operation
    public boolean isClosed() {
      return ch.isClosed();
    }

    @Operation
    public int size() {
      return ch.size();
    }

    // Blocking: only in must-complete scenarios (see Scenario), never in ones Lincheck generates.

    public Object send(int value) throws InterruptedException {
      try {
        ch.send(value);
        return OK;
      } catch (ChannelClosedException e) {
        return ended(e);
      }
    }

    /**
     * {@link #send} for a scenario in which only this thread sends, on a rendezvous channel: then
     * once {@code send} returns, a receiver has taken the element and nothing else can be in the
     * slot, so {@code size()} must be 0 (the synchronous hand-off, which the one-slot specification
     * alone would not catch).
     */
    public Object sendAlone(int value) throws InterruptedException {
      Object r = send(value);
      return OK.equals(r) && ch.size() != 0 ? RETURNED_UNTAKEN : r;
    }

    public Object receive() throws InterruptedException {
      try {
        return ch.receive();
      } catch (ChannelClosedException e) {
        return ended(e);
      }
    }
  }

  public static final class Rendezvous extends ChannelOps {
    public Rendezvous() {
      super(0);
    }
  }

  public static final class Buffered1 extends ChannelOps {
    public Buffered1() {
      super(1);
    }
  }

  public static final class Buffered2 extends ChannelOps {
    public Buffered2() {
      super(2);
    }
  }

  // ---- the sequential specification ----

  /**
   * A channel as a queue with a capacity, a closed flag and a failure (0: none).
   *
   * <p>For a rendezvous channel ({@code capacity == 0}) {@code trySend} never succeeds (no receiver
   * is waiting in a sequential history), while {@code send}/{@code receive} use one slot: a
   * rendezvous send takes effect when it offers its element, a receive takes it from there. That is
   * a relaxation of a synchronous hand-off: that the sender returns only after the hand-off is
   * checked separately ({@code sendAlone}); and it accepts what {@link Channel#close()} does to a
   * sender still blocked with its element in the slot: until that sender runs again, a receive that
   * starts after {@code close()} returned still takes the element, and the send then returns
   * normally (a strict rendezvous would fail both; the one-slot model sees a send before the
   * close). {@code trySend} and {@code size} are left out of rendezvous scenarios with blocking
   * calls: their results depend on who is blocked, which this model cannot know.
   */
  public abstract static class ChannelSpec {
    private final int capacity;
    private final ArrayDeque<Integer> buf = new ArrayDeque<>();
    private boolean closed;
    private int failure;

    ChannelSpec(int capacity) {
      this.capacity = capacity;
    }

    private Object ended() {
      return failure == 0 ? CLOSED : failed(failure);
    }

    public Object trySend(int value) {
      if (closed) {
        return ended();
      }
      if (buf.size() >= capacity) {
        return false;
      }
      buf.add(value);
      return true;
    }

    public Object poll() {
      if (!buf.isEmpty()) {
        return buf.poll();
      }
      return closed ? ended() : null;
    }

    public void close() {
      closed = true; // no effect on a failed channel: it is closed already, failure stays
    }

    public void fail(int cause) {
      if (failure != 0) {
        return;
      }
      closed = true;
      failure = cause;
      buf.clear();
    }

    public boolean isClosed() {
      return closed;
    }

    public int size() {
      return buf.size();
    }

    public Object send(int value) {
      if (closed) {
        return ended();
      }
      if (buf.size() >= Math.max(1, capacity)) {
        return WOULD_BLOCK;
      }
      buf.add(value);
      return OK;
    }

    public Object sendAlone(int value) {
      return send(value);
    }

    public Object receive() {
      if (!buf.isEmpty()) {
        return buf.poll();
      }
      return closed ? ended() : WOULD_BLOCK;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof ChannelSpec s
          && s.capacity == capacity
          && s.closed == closed
          && s.failure == failure
          && Arrays.equals(s.buf.toArray(), buf.toArray());
    }

    @Override
    public int hashCode() {
      return Objects.hash(capacity, closed, failure, Arrays.hashCode(buf.toArray()));
    }
  }

  public static final class RendezvousSpec extends ChannelSpec {
    public RendezvousSpec() {
      super(0);
    }
  }

  public static final class Buffered1Spec extends ChannelSpec {
    public Buffered1Spec() {
      super(1);
    }
  }

  public static final class Buffered2Spec extends ChannelSpec {
    public Buffered2Spec() {
      super(2);
    }
  }

  private static Class<? extends ChannelOps> opsFor(int capacity) {
    return switch (capacity) {
      case 0 -> Rendezvous.class;
      case 1 -> Buffered1.class;
      case 2 -> Buffered2.class;
      default -> throw new IllegalArgumentException("capacity " + capacity);
    };
  }

  private static Class<? extends ChannelSpec> specFor(int capacity) {
    return switch (capacity) {
      case 0 -> RendezvousSpec.class;
      case 1 -> Buffered1Spec.class;
      case 2 -> Buffered2Spec.class;
      default -> throw new IllegalArgumentException("capacity " + capacity);
    };
  }

  /**
   * How many scenarios each check runs, scaled by {@code -Dmillrace.stress.iterations} (default 300
   * gives {@code base}). A model-checked invocation of these scenarios costs a few milliseconds
   * (every lock and condition step is a switch point), so the defaults are sized to keep the whole
   * class at about 25 s on two busy cores.
   */
  static int scenarios(int base) {
    return Math.max(2, Math.round(base * StressConfig.iterations() / 300f));
  }

  // ---- non-blocking operations, random scenarios ----

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void nonBlockingOperationsAreLinearizableUnderModelChecking(int capacity) {
    new ModelCheckingOptions()
        .iterations(scenarios(6))
        .invocationsPerIteration(150)
        .threads(2)
        .actorsPerThread(3)
        .actorsBefore(2)
        .actorsAfter(2)
        .sequentialSpecification(specFor(capacity))
        .check(opsFor(capacity));
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void nonBlockingOperationsAreLinearizableUnderStress(int capacity) {
    new StressOptions()
        .iterations(scenarios(5))
        .invocationsPerIteration(200)
        .threads(2)
        .actorsPerThread(4)
        .actorsBefore(2)
        .actorsAfter(2)
        .sequentialSpecification(specFor(capacity))
        .check(opsFor(capacity));
  }

  // ---- blocking send/receive: must-complete scenarios ----

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void blockingSendAndReceiveAreLinearizableAndNeverHangUnderModelChecking(int capacity) {
    long seed = Long.getLong("millrace.lincheck.seed", 20_240_601L) + capacity;
    ScenarioGenerator gen = new ScenarioGenerator(capacity, new Random(seed));
    ModelCheckingOptions options =
        new ModelCheckingOptions()
            .iterations(0) // only the scenarios added below
            .invocationsPerIteration(150)
            .sequentialSpecification(specFor(capacity));
    for (Scenario s : Scenario.classics(capacity)) {
      if (!s.mustComplete()) {
        throw new AssertionError("may legitimately hang: " + s);
      }
      options.addCustomScenario(s.toLincheck());
    }
    for (int i = 0; i < scenarios(8); i++) {
      options.addCustomScenario(gen.next().toLincheck());
    }
    try {
      options.check(opsFor(capacity));
    } catch (LincheckAssertionError e) {
      throw new AssertionError("seed " + seed + ": " + e.getMessage(), e);
    }
  }

  /**
   * The blocking check is only meaningful if the model checker sees a thread blocked in {@link
   * Channel#receive()} as blocked: a receive nobody sends to must be reported as a hang.
   */
  @Test
  void modelCheckerReportsAReceiveThatCanNeverCompleteAsAHang() {
    Scenario hangs =
        new Scenario(1, List.of(), List.of(List.of(receive()), List.of(isClosed())), List.of());
    assertThat(hangs.mustComplete()).isFalse();
    assertThatThrownBy(
            () ->
                new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(100)
                    .addCustomScenario(hangs.toLincheck())
                    .sequentialSpecification(Buffered1Spec.class)
                    .check(Buffered1.class))
        .isInstanceOf(LincheckAssertionError.class)
        .hasMessageContaining("deadlock");
  }

  /** The operations a scenario is made of: methods of {@link ChannelOps} (and the spec). */
  enum Op {
    SEND("send", true),
    SEND_ALONE("sendAlone", true),
    RECEIVE("receive", false),
    TRY_SEND("trySend", true),
    POLL("poll", false),
    CLOSE("close", false),
    FAIL("fail", true),
    SIZE("size", false),
    IS_CLOSED("isClosed", false);

    final Method method;

    Op(String name, boolean intArg) {
      try {
        method =
            intArg ? ChannelOps.class.getMethod(name, int.class) : ChannelOps.class.getMethod(name);
      } catch (NoSuchMethodException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    boolean isSend() {
      return this == SEND || this == SEND_ALONE;
    }

    boolean blocks() {
      return isSend() || this == RECEIVE;
    }
  }

  record Call(Op op, int arg) {
    Actor actor() {
      return new Actor(op.method, op.method.getParameterCount() == 0 ? List.of() : List.of(arg));
    }

    @Override
    public String toString() {
      return op.method.getName() + (op.method.getParameterCount() == 0 ? "()" : "(" + arg + ")");
    }
  }

  static Call send(int v) {
    return new Call(Op.SEND, v);
  }

  static Call receive() {
    return new Call(Op.RECEIVE, 0);
  }

  static Call poll() {
    return new Call(Op.POLL, 0);
  }

  static Call close() {
    return new Call(Op.CLOSE, 0);
  }

  static Call fail(int cause) {
    return new Call(Op.FAIL, cause);
  }

  static Call size() {
    return new Call(Op.SIZE, 0);
  }

  static Call isClosed() {
    return new Call(Op.IS_CLOSED, 0);
  }

  /** A scenario: calls before, the parallel threads' calls, calls after. */
  record Scenario(int capacity, List<Call> init, List<List<Call>> threads, List<Call> post) {

    /**
     * On a rendezvous channel with a single sending thread, its sends become {@code sendAlone},
     * which also checks that the element was taken before {@code send} returned.
     */
    Scenario {
      if (capacity == 0
          && threads.stream().filter(t -> t.stream().anyMatch(c -> c.op.isSend())).count() == 1) {
        threads =
            threads.stream()
                .map(t -> t.stream().map(c -> c.op == Op.SEND ? new Call(Op.SEND_ALONE, c.arg) : c))
                .map(calls -> calls.toList())
                .toList();
      }
    }

    /**
     * Hand-written scenarios for the classic lost wake-ups: two senders blocked on a full channel
     * and one receiver taking twice (a receiver that signals only on the full-to-not-full
     * transition strands the second sender), the mirror image with receivers, and close or fail
     * while senders and receivers are blocked.
     */
    static List<Scenario> classics(int capacity) {
      if (capacity == 0) {
        List<Call> none = List.of();
        List<Call> after = List.of(poll());
        return List.of(
            of(0, none, after, List.of(send(1)), List.of(send(2)), List.of(receive(), receive())),
            of(0, none, after, List.of(receive()), List.of(receive()), List.of(send(1), send(2))),
            of(0, none, after, List.of(send(1)), List.of(close()), List.of(receive())),
            of(0, none, after, List.of(send(1), send(2)), List.of(receive()), List.of(fail(1))),
            of(
                0,
                none,
                after,
                List.of(receive(), receive()),
                List.of(send(1)),
                List.of(send(2), close())));
      }
      List<Call> full = new ArrayList<>();
      for (int v = 1; v <= capacity; v++) {
        full.add(send(v));
      }
      List<Call> empty = List.of();
      int a = capacity + 1;
      int b = capacity + 2;
      return List.of(
          of(
              capacity,
              full,
              List.of(size(), poll()),
              List.of(send(a)),
              List.of(send(b)),
              List.of(receive(), receive())),
          of(
              capacity,
              empty,
              List.of(size()),
              List.of(receive()),
              List.of(receive()),
              List.of(send(1), send(2))),
          of(
              capacity,
              full,
              List.of(poll(), size()),
              List.of(send(a)),
              List.of(receive(), close()),
              List.of(receive())),
          of(
              capacity,
              full,
              List.of(poll()),
              List.of(send(a)),
              List.of(fail(1)),
              List.of(receive())),
          of(
              capacity,
              empty,
              List.of(poll()),
              List.of(receive()),
              List.of(receive()),
              List.of(send(1), close())));
    }

    @SafeVarargs
    private static Scenario of(
        int capacity, List<Call> init, List<Call> post, List<Call>... threads) {
      return new Scenario(capacity, init, List.of(threads), post);
    }

    ExecutionScenario toLincheck() {
      List<List<Actor>> parallel = new ArrayList<>();
      for (List<Call> t : threads) {
        parallel.add(actors(t));
      }
      return new ExecutionScenario(actors(init), parallel, actors(post), null);
    }

    private static List<Actor> actors(List<Call> calls) {
      List<Actor> actors = new ArrayList<>(); // mutable: Lincheck may edit scenarios
      for (Call c : calls) {
        actors.add(c.actor());
      }
      return actors;
    }

    /**
     * Whether every interleaving completes, explored on the specification: a thread whose next call
     * would block waits; if at some point every unfinished thread waits, a correct channel may hang
     * there. On a rendezvous channel a send completes only together with a receive or a poll of
     * another thread (or alone, once closed), and a poll may also find nobody.
     */
    boolean mustComplete() {
      return explore(new ArrayList<>(), new int[threads.size()]);
    }

    /** Depth-first over all steps from here; a step moves one thread, or a rendezvous pair. */
    private boolean explore(List<Call> path, int[] pc) {
      boolean done = true;
      boolean moved = false;
      for (int t = 0; t < threads.size(); t++) {
        if (pc[t] == threads.get(t).size()) {
          continue;
        }
        done = false;
        Call c = threads.get(t).get(pc[t]);
        ChannelSpec s = replay(path);
        if (capacity == 0 && c.op.blocks() && !s.isClosed()) {
          if (!c.op.isSend()) {
            continue; // a receive waits for a sender; the pair is taken from the sender's side
          }
          for (int u = 0; u < threads.size(); u++) {
            if (u != t && pc[u] < threads.get(u).size()) {
              Call partner = threads.get(u).get(pc[u]);
              if (partner.op == Op.RECEIVE || partner.op == Op.POLL) {
                moved = true;
                if (!step(path, pc, c, t, partner, u)) {
                  return false;
                }
              }
            }
          }
        } else if (!WOULD_BLOCK.equals(apply(s, c))) {
          moved = true;
          if (!step(path, pc, c, t, null, -1)) {
            return false;
          }
        }
      }
      return done || moved;
    }

    private boolean step(List<Call> path, int[] pc, Call c, int t, Call partner, int u) {
      int[] next = pc.clone();
      path.add(c);
      next[t]++;
      if (partner != null) {
        path.add(partner); // right after its send: on the one-slot spec it takes that element
        next[u]++;
      }
      boolean ok = explore(path, next);
      path.remove(path.size() - 1);
      if (partner != null) {
        path.remove(path.size() - 1);
      }
      return ok;
    }

    private ChannelSpec replay(List<Call> path) {
      ChannelSpec s = new ChannelSpec(capacity) {};
      init.forEach(c -> apply(s, c));
      path.forEach(c -> apply(s, c));
      return s;
    }

    private static Object apply(ChannelSpec s, Call c) {
      return switch (c.op) {
        case SEND, SEND_ALONE -> s.send(c.arg);
        case RECEIVE -> s.receive();
        case TRY_SEND -> s.trySend(c.arg);
        case POLL -> s.poll();
        case CLOSE -> {
          s.close();
          yield null;
        }
        case FAIL -> {
          s.fail(c.arg);
          yield null;
        }
        case SIZE -> s.size();
        case IS_CLOSED -> s.isClosed();
      };
    }

    @Override
    public String toString() {
      return "capacity " + capacity + ": " + init + " then " + threads + " then " + post;
    }
  }

  /**
   * Random must-complete scenarios: 2 or 3 threads of 1 to 3 calls each, mostly sends and receives;
   * for a buffered channel some sends before and non-blocking calls after. Sent values are
   * distinct, so each result pins down which element was taken.
   */
  static final class ScenarioGenerator {
    private final int capacity;
    private final Random rnd;

    ScenarioGenerator(int capacity, Random rnd) {
      this.capacity = capacity;
      this.rnd = rnd;
    }

    Scenario next() {
      while (true) {
        int value = 1;
        List<Call> init = new ArrayList<>();
        if (capacity > 0) {
          for (int i = rnd.nextBoolean() ? capacity : rnd.nextInt(capacity); i > 0; i--) {
            init.add(send(value++));
          }
        }
        List<List<Call>> threads = new ArrayList<>();
        for (int t = 2 + rnd.nextInt(2); t > 0; t--) {
          List<Call> calls = new ArrayList<>();
          for (int i = 1 + rnd.nextInt(3); i > 0; i--) {
            Call c = randomCall(value);
            if (c.op == Op.SEND || c.op == Op.TRY_SEND) {
              value++;
            }
            calls.add(c);
          }
          threads.add(calls);
        }
        List<Call> post = new ArrayList<>();
        for (int i = rnd.nextInt(3); i > 0; i--) {
          post.add(capacity == 0 ? poll() : randomOf(poll(), size(), new Call(Op.TRY_SEND, 99)));
        }
        Scenario s = new Scenario(capacity, init, threads, post);
        boolean blocking = threads.stream().flatMap(List::stream).anyMatch(c -> c.op.blocks());
        if (blocking && s.mustComplete()) {
          return s;
        }
      }
    }

    private Call randomCall(int nextValue) {
      int r = rnd.nextInt(100);
      if (r < 32) {
        return send(nextValue);
      } else if (r < 64) {
        return receive();
      } else if (r < 74) {
        return poll();
      } else if (r < 84) {
        return close();
      } else if (r < 88) {
        return fail(1 + rnd.nextInt(2));
      } else if (capacity == 0) {
        // the results of trySend and size on a rendezvous channel depend on who is blocked in it,
        // which the sequential specification cannot know
        return isClosed();
      } else if (r < 93) {
        return new Call(Op.TRY_SEND, nextValue);
      } else if (r < 97) {
        return size();
      } else {
        return isClosed();
      }
    }

    private Call randomOf(Call... calls) {
      return calls[rnd.nextInt(calls.length)];
    }
  }
}
