package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Method;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.LincheckAssertionError;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Lincheck model checks of {@link Select} over two channels {@code a} and {@code b} of the same
 * capacity (0, 1, 2), mixed with plain channel operations, against a sequential specification
 * ({@link SelectSpec}: two queues with a capacity, a closed flag and a failure each).
 *
 * <p>The selects try their clauses in the order written ({@link Selector#inOrder}, which also
 * decides every select at one moment under all its locks; the random start and the one-lock fast
 * path in front of it are left out, since which of several ready clauses wins is then up to chance,
 * which a sequential specification cannot express). So the specification's select takes the first
 * clause that can complete at once; if none can and it has a send clause to an open rendezvous
 * channel with a free slot, it offers its element there (the one-slot relaxation of {@code
 * ChannelLincheckTest}: the real select returns later, once a receiver has taken it, which
 * linearizes as the offer followed by that receive); otherwise it blocks ({@link #WOULD_BLOCK}).
 *
 * <ul>
 *   <li><b>Non-blocking:</b> selects with a default clause, {@code trySend}, {@code poll}, {@code
 *       close}, {@code fail}, in scenarios Lincheck generates.
 *   <li><b>Blocking:</b> selects without a default (receive from either, send to either, send to
 *       one and receive from the other, in both directions at once) with plain {@code send} and
 *       {@code receive}, hand-written ({@link #classics}) and generated scenarios, each kept only
 *       if no interleaving of the specification can leave a thread blocked for good ({@link
 *       #mustComplete}), so a hang the model checker finds is a lost wake-up. Left out on
 *       rendezvous channels: a select with two send clauses (which one a receiver meets first is up
 *       to chance) and {@code trySend} or a select sending with a default (they succeed only if a
 *       receiver is blocked, which the specification cannot know).
 * </ul>
 *
 * Scale with {@code -Dmillrace.stress.iterations=N} (default 300); {@code
 * -Dmillrace.lincheck.seed=S} picks other generated scenarios.
 */
@Timeout(180)
class SelectLincheckTest {

  static final String WOULD_BLOCK = "would-block";

  @BeforeAll
  static void clausesInOrder() {
    Selector.inOrder = true;
  }

  @AfterAll
  static void clausesFromARandomOne() {
    Selector.inOrder = false;
  }

  // ---- the operations under test ----

  @Param(name = "value", gen = IntGen.class, conf = "1:3")
  @Param(name = "cause", gen = IntGen.class, conf = "1:2")
  public abstract static class SelectOps {
    private final Channel<Integer> a;
    private final Channel<Integer> b;

    SelectOps(int capacity) {
      a = capacity == 0 ? Channel.rendezvous() : Channel.buffered(capacity);
      b = capacity == 0 ? Channel.rendezvous() : Channel.buffered(capacity);
    }

    private interface Call {
      Object run() throws InterruptedException;
    }

    private static Object ended(Call call) throws InterruptedException {
      try {
        return call.run();
      } catch (ChannelClosedException e) {
        return ChannelLincheckTest.ended(e);
      }
    }

    @Operation(params = "value")
    public Object trySendA(int v) throws InterruptedException {
      return ended(() -> a.trySend(v));
    }

    @Operation(params = "value")
    public Object trySendB(int v) throws InterruptedException {
      return ended(() -> b.trySend(v));
    }

    @Operation
    public Object pollA() throws InterruptedException {
      return ended(a::poll);
    }

    @Operation
    public Object pollB() throws InterruptedException {
      return ended(b::poll);
    }

    @Operation
    public void closeA() {
      a.close();
    }

    @Operation(params = "cause")
    public void failB(int cause) {
      b.fail(new ChannelLincheckTest.Failure(cause));
    }

    @Operation
    public Object selectReceiveOrDefault() throws InterruptedException {
      return ended(
          () ->
              Select.select(
                  a.receiveClause(x -> "a:" + x),
                  b.receiveClause(x -> "b:" + x),
                  Select.defaultClause("none")));
    }

    @Operation(params = "value")
    public Object selectSendOrDefault(int v) throws InterruptedException {
      return ended(
          () ->
              Select.select(
                  a.sendClause(v, () -> "sent a"),
                  b.sendClause(v, () -> "sent b"),
                  Select.defaultClause("none")));
    }

    @Operation(params = "value")
    public Object selectMixedOrDefault(int v) throws InterruptedException {
      return ended(
          () ->
              Select.select(
                  a.sendClause(v, () -> "sent a"),
                  b.receiveClause(x -> "b:" + x),
                  Select.defaultClause("none")));
    }

    // blocking: only in must-complete scenarios

    public Object sendA(int v) throws InterruptedException {
      return ended(
          () -> {
            a.send(v);
            return "ok";
          });
    }

    public Object sendB(int v) throws InterruptedException {
      return ended(
          () -> {
            b.send(v);
            return "ok";
          });
    }

    public Object receiveA() throws InterruptedException {
      return ended(a::receive);
    }

    public Object receiveB() throws InterruptedException {
      return ended(b::receive);
    }

    public void closeB() {
      b.close();
    }

    public void failA(int cause) {
      a.fail(new ChannelLincheckTest.Failure(cause));
    }

    public Object selectReceive() throws InterruptedException {
      return ended(
          () -> Select.select(a.receiveClause(x -> "a:" + x), b.receiveClause(x -> "b:" + x)));
    }

    public Object selectSend(int v) throws InterruptedException {
      return ended(
          () -> Select.select(a.sendClause(v, () -> "sent a"), b.sendClause(v, () -> "sent b")));
    }

    /** Send to a, or receive from b. */
    public Object selectAB(int v) throws InterruptedException {
      return ended(
          () -> Select.select(a.sendClause(v, () -> "sent a"), b.receiveClause(x -> "b:" + x)));
    }

    /** Send to b, or receive from a. */
    public Object selectBA(int v) throws InterruptedException {
      return ended(
          () -> Select.select(b.sendClause(v, () -> "sent b"), a.receiveClause(x -> "a:" + x)));
    }
  }

  public static final class Rendezvous extends SelectOps {
    public Rendezvous() {
      super(0);
    }
  }

  public static final class Buffered1 extends SelectOps {
    public Buffered1() {
      super(1);
    }
  }

  public static final class Buffered2 extends SelectOps {
    public Buffered2() {
      super(2);
    }
  }

  // ---- the sequential specification ----

  /** One channel: a queue with a capacity (a rendezvous channel: one slot), closed, failure. */
  static final class Ch {
    final String name;
    final int capacity;
    final ArrayDeque<Integer> buf = new ArrayDeque<>();
    boolean closed;
    int failure;

    Ch(String name, int capacity) {
      this.name = name;
      this.capacity = capacity;
    }

    Ch copy() {
      Ch c = new Ch(name, capacity);
      c.buf.addAll(buf);
      c.closed = closed;
      c.failure = failure;
      return c;
    }

    Object ended() {
      return failure == 0 ? ChannelLincheckTest.CLOSED : ChannelLincheckTest.failed(failure);
    }

    /** A clause or a call that completes at once: its result, or null if it cannot. */
    Object receiveNow(boolean labelled) {
      if (!buf.isEmpty()) {
        Integer v = buf.poll();
        return labelled ? name + ":" + v : v;
      }
      return closed ? ended() : null;
    }

    Object sendNow(int v, Object sent) {
      if (closed) {
        return ended();
      }
      if (capacity > 0 && buf.size() < capacity) {
        buf.add(v);
        return sent;
      }
      return null;
    }

    /** A rendezvous send that waits: offers its element in the free slot. */
    Object offer(int v, Object sent) {
      if (capacity == 0 && !closed && buf.isEmpty()) {
        buf.add(v);
        return sent;
      }
      return null;
    }

    void close() {
      closed = true;
    }

    void fail(int cause) {
      if (failure == 0) {
        closed = true;
        failure = cause;
        buf.clear();
      }
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Ch c
          && c.capacity == capacity
          && c.closed == closed
          && c.failure == failure
          && Arrays.equals(c.buf.toArray(), buf.toArray());
    }

    @Override
    public int hashCode() {
      return Objects.hash(capacity, closed, failure, Arrays.hashCode(buf.toArray()));
    }

    @Override
    public String toString() {
      return name + buf + (closed ? "x" + failure : "");
    }
  }

  /** A clause of the specification's select. */
  record Clause(Ch ch, boolean send, int value) {
    Object now() {
      return send ? ch.sendNow(value, "sent " + ch.name) : ch.receiveNow(true);
    }
  }

  public abstract static class SelectSpec {
    Ch a;
    Ch b;

    SelectSpec(int capacity) {
      a = new Ch("a", capacity);
      b = new Ch("b", capacity);
    }

    static Object select(boolean withDefault, Clause... clauses) {
      for (Clause c : clauses) {
        Object r = c.now();
        if (r != null) {
          return r;
        }
      }
      if (withDefault) {
        return "none";
      }
      for (Clause c : clauses) {
        Object r = c.send ? c.ch.offer(c.value, "sent " + c.ch.name) : null;
        if (r != null) {
          return r;
        }
      }
      return WOULD_BLOCK;
    }

    private static Object trySend(Ch ch, int v) {
      if (ch.closed) {
        return ch.ended();
      }
      return ch.sendNow(v, true) != null;
    }

    private static Object send(Ch ch, int v) {
      Object r = ch.sendNow(v, "ok");
      if (r == null) {
        r = ch.offer(v, "ok");
      }
      return r == null ? WOULD_BLOCK : r;
    }

    private static Object receive(Ch ch) {
      Object r = ch.receiveNow(false);
      return r == null ? WOULD_BLOCK : r;
    }

    public Object trySendA(int v) {
      return trySend(a, v);
    }

    public Object trySendB(int v) {
      return trySend(b, v);
    }

    public Object pollA() {
      return a.receiveNow(false);
    }

    public Object pollB() {
      return b.receiveNow(false);
    }

    public void closeA() {
      a.close();
    }

    public void closeB() {
      b.close();
    }

    public void failA(int cause) {
      a.fail(cause);
    }

    public void failB(int cause) {
      b.fail(cause);
    }

    public Object selectReceiveOrDefault() {
      return select(true, new Clause(a, false, 0), new Clause(b, false, 0));
    }

    public Object selectSendOrDefault(int v) {
      return select(true, new Clause(a, true, v), new Clause(b, true, v));
    }

    public Object selectMixedOrDefault(int v) {
      return select(true, new Clause(a, true, v), new Clause(b, false, 0));
    }

    public Object sendA(int v) {
      return send(a, v);
    }

    public Object sendB(int v) {
      return send(b, v);
    }

    public Object receiveA() {
      return receive(a);
    }

    public Object receiveB() {
      return receive(b);
    }

    public Object selectReceive() {
      return select(false, new Clause(a, false, 0), new Clause(b, false, 0));
    }

    public Object selectSend(int v) {
      return select(false, new Clause(a, true, v), new Clause(b, true, v));
    }

    public Object selectAB(int v) {
      return select(false, new Clause(a, true, v), new Clause(b, false, 0));
    }

    public Object selectBA(int v) {
      return select(false, new Clause(b, true, v), new Clause(a, false, 0));
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof SelectSpec s && s.a.equals(a) && s.b.equals(b);
    }

    @Override
    public int hashCode() {
      return Objects.hash(a, b);
    }
  }

  public static final class RendezvousSpec extends SelectSpec {
    public RendezvousSpec() {
      super(0);
    }
  }

  public static final class Buffered1Spec extends SelectSpec {
    public Buffered1Spec() {
      super(1);
    }
  }

  public static final class Buffered2Spec extends SelectSpec {
    public Buffered2Spec() {
      super(2);
    }
  }

  private static Class<? extends SelectOps> opsFor(int capacity) {
    return switch (capacity) {
      case 0 -> Rendezvous.class;
      case 1 -> Buffered1.class;
      case 2 -> Buffered2.class;
      default -> throw new IllegalArgumentException("capacity " + capacity);
    };
  }

  private static Class<? extends SelectSpec> specFor(int capacity) {
    return switch (capacity) {
      case 0 -> RendezvousSpec.class;
      case 1 -> Buffered1Spec.class;
      case 2 -> Buffered2Spec.class;
      default -> throw new IllegalArgumentException("capacity " + capacity);
    };
  }

  // ---- the checks ----

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void selectsWithADefaultAreLinearizableUnderModelChecking(int capacity) {
    new ModelCheckingOptions()
        .iterations(ChannelLincheckTest.scenarios(5))
        .invocationsPerIteration(100)
        .threads(2)
        .actorsPerThread(3)
        .actorsBefore(2)
        .actorsAfter(2)
        .sequentialSpecification(specFor(capacity))
        .check(opsFor(capacity));
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void blockingSelectsAreLinearizableAndNeverHangUnderModelChecking(int capacity) {
    long seed = Long.getLong("millrace.lincheck.seed", 20_260_301L) + capacity;
    Random rnd = new Random(seed);
    ModelCheckingOptions options =
        new ModelCheckingOptions()
            .iterations(0) // only the scenarios added below
            .invocationsPerIteration(100)
            .sequentialSpecification(specFor(capacity));
    for (Scenario s : classics(capacity)) {
      if (!s.mustComplete()) {
        throw new AssertionError("may legitimately hang: " + s);
      }
      options.addCustomScenario(s.toLincheck());
    }
    for (int i = 0; i < ChannelLincheckTest.scenarios(8); i++) {
      options.addCustomScenario(generate(capacity, rnd).toLincheck());
    }
    try {
      options.check(opsFor(capacity));
    } catch (LincheckAssertionError e) {
      throw new AssertionError("seed " + seed + ": " + e.getMessage(), e);
    }
  }

  /** The must-complete filter is what makes a reported hang a bug; it must see real hangs. */
  @Test
  void theMustCompleteCheckSeesASelectNobodyAnswers() {
    assertThat(
            new Scenario(0, List.of(), List.of(List.of(call(Op.SELECT_RECEIVE, 0))), List.of())
                .mustComplete())
        .isFalse();
    assertThat(
            new Scenario(
                    0,
                    List.of(),
                    List.of(List.of(call(Op.SELECT_AB, 1)), List.of(call(Op.SEND_B, 2))),
                    List.of())
                .mustComplete())
        .isTrue();
    assertThat(
            new Scenario(
                    0,
                    List.of(),
                    List.of(List.of(call(Op.SELECT_AB, 1)), List.of(call(Op.RECEIVE_B, 0))),
                    List.of())
                .mustComplete())
        .as("a send to a and a receive from b never meet")
        .isFalse();
  }

  /**
   * The blocking check is only meaningful if the model checker sees a thread parked in a select as
   * blocked: a select nobody answers must be reported as a hang.
   */
  @Test
  void modelCheckerReportsASelectThatCanNeverCompleteAsAHang() {
    Scenario hangs =
        new Scenario(
            0,
            List.of(),
            List.of(List.of(call(Op.SELECT_RECEIVE, 0)), List.of(call(Op.POLL_A, 0))),
            List.of());
    assertThat(hangs.mustComplete()).isFalse();
    assertThatThrownBy(
            () ->
                new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(100)
                    .addCustomScenario(hangs.toLincheck())
                    .sequentialSpecification(RendezvousSpec.class)
                    .check(Rendezvous.class))
        .isInstanceOf(LincheckAssertionError.class)
        .hasMessageContaining("The execution has hung"); // a park in a loop: "livelock"
  }

  // ---- scenarios ----

  enum Op {
    SEND_A("sendA", true, 'a'),
    SEND_B("sendB", true, 'b'),
    RECEIVE_A("receiveA", false, 0),
    RECEIVE_B("receiveB", false, 0),
    POLL_A("pollA", false, 0),
    POLL_B("pollB", false, 0),
    TRY_SEND_A("trySendA", true, 0),
    TRY_SEND_B("trySendB", true, 0),
    CLOSE_A("closeA", false, 0),
    CLOSE_B("closeB", false, 0),
    FAIL_A("failA", true, 0),
    FAIL_B("failB", true, 0),
    SELECT_RECEIVE("selectReceive", false, 0),
    SELECT_SEND("selectSend", true, 0),
    SELECT_AB("selectAB", true, 0),
    SELECT_BA("selectBA", true, 0),
    SELECT_RECEIVE_OR_DEFAULT("selectReceiveOrDefault", false, 0),
    SELECT_SEND_OR_DEFAULT("selectSendOrDefault", true, 0),
    SELECT_MIXED_OR_DEFAULT("selectMixedOrDefault", true, 0);

    final Method method;

    /** The channel a plain send goes to ({@code 'a'}, {@code 'b'}), 0 for the others. */
    final char plainSendTo;

    Op(String name, boolean intArg, int plainSendTo) {
      this.plainSendTo = (char) plainSendTo;
      try {
        method =
            intArg ? SelectOps.class.getMethod(name, int.class) : SelectOps.class.getMethod(name);
      } catch (NoSuchMethodException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    boolean sends() {
      return this == SEND_A
          || this == SEND_B
          || this == TRY_SEND_A
          || this == TRY_SEND_B
          || name().startsWith("SELECT_")
              && this != SELECT_RECEIVE
              && this != SELECT_RECEIVE_OR_DEFAULT;
    }

    boolean blocks() {
      return this == SEND_A
          || this == SEND_B
          || this == RECEIVE_A
          || this == RECEIVE_B
          || this == SELECT_RECEIVE
          || this == SELECT_SEND
          || this == SELECT_AB
          || this == SELECT_BA;
    }

    Object apply(SelectSpec s, int arg) {
      try {
        return method.getParameterCount() == 0
            ? SelectSpec.class.getMethod(method.getName()).invoke(s)
            : SelectSpec.class.getMethod(method.getName(), int.class).invoke(s, arg);
      } catch (ReflectiveOperationException e) {
        throw new AssertionError(e);
      }
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

  static Call call(Op op, int arg) {
    return new Call(op, arg);
  }

  /** A scenario: calls before, the parallel threads' calls, calls after. */
  record Scenario(int capacity, List<Call> init, List<List<Call>> threads, List<Call> post) {

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
     * Whether every interleaving of the specification completes. A call that would block waits; a
     * send that offers its element on a rendezvous channel (a plain send, or a select that found no
     * clause ready) waits until its element has left the slot (taken, or dropped by {@code fail})
     * or the channel is closed. If at some point every unfinished thread waits, a correct
     * implementation may hang there.
     */
    boolean mustComplete() {
      SelectSpec s = new SelectSpec(capacity) {};
      for (Call c : init) {
        c.op.apply(s, c.arg);
      }
      return explore(s, new int[threads.size()], new int[threads.size()], new HashSet<>());
    }

    /** {@code offered[t]}: the value thread t offered on a rendezvous channel, 0 if none. */
    private boolean explore(SelectSpec s, int[] pc, int[] offered, Set<String> seen) {
      String key = s.a + " " + s.b + Arrays.toString(pc) + Arrays.toString(offered);
      if (!seen.add(key)) {
        return true;
      }
      boolean done = true;
      boolean moved = false;
      for (int t = 0; t < threads.size(); t++) {
        if (pc[t] == threads.get(t).size()) {
          continue;
        }
        done = false;
        Call c = threads.get(t).get(pc[t]);
        int[] nextPc = pc.clone();
        int[] nextOffered = offered.clone();
        SelectSpec next = copy(s);
        if (offered[t] != 0) {
          Ch ch = offeredOn(next, c, offered[t]);
          if (ch.buf.contains(offered[t]) && !ch.closed) {
            if (!c.op.name().startsWith("SELECT_")) {
              continue; // a plain send still waiting for a receiver
            }
            // a waiting select has not linearized yet: it may still be completed by another of its
            // clauses that has become ready; that is the select taking back its offer, then again
            ch.buf.remove(offered[t]);
            Object r = c.op.apply(next, c.arg);
            if (isSent(r)) {
              continue; // it offers again: no progress
            }
          }
          nextOffered[t] = 0;
          nextPc[t]++;
        } else {
          Object r = c.op.apply(next, c.arg);
          if (WOULD_BLOCK.equals(r)) {
            continue;
          }
          if (capacity == 0 && c.op.sends() && isSent(r)) {
            nextOffered[t] = c.arg; // waits for its element to be taken
          } else {
            nextPc[t]++;
          }
        }
        moved = true;
        if (!explore(next, nextPc, nextOffered, seen)) {
          return false;
        }
      }
      return done || moved;
    }

    private static boolean isSent(Object r) {
      return "ok".equals(r) || (r instanceof String str && str.startsWith("sent "));
    }

    /** The channel on which {@code c} offered {@code v}, if a slot still holds it. */
    private static Ch offeredOn(SelectSpec s, Call c, int v) {
      if (c.op.plainSendTo == 'b' || (c.op.plainSendTo == 0 && s.b.buf.contains(v))) {
        return s.b;
      }
      if (c.op.plainSendTo == 'a' || s.a.buf.contains(v)) {
        return s.a;
      }
      return s.a; // taken, or dropped by fail: no slot holds it
    }

    private static SelectSpec copy(SelectSpec s) {
      SelectSpec c = new SelectSpec(s.a.capacity) {};
      c.a = s.a.copy();
      c.b = s.b.copy();
      return c;
    }

    @Override
    public String toString() {
      return "capacity " + capacity + ": " + init + " then " + threads + " then " + post;
    }
  }

  /**
   * Hand-written scenarios for each capacity: two selects waiting for one sender that sends to both
   * channels (a lost wake-up strands one), selects meeting selects in both directions, a select
   * sender meeting plain receivers that were blocked first, and close or fail ending waiting
   * selects.
   */
  static List<Scenario> classics(int capacity) {
    List<Call> pollBoth = List.of(call(Op.POLL_A, 0), call(Op.POLL_B, 0));
    List<Call> fullA = new ArrayList<>();
    for (int v = 1; v <= capacity; v++) {
      fullA.add(call(Op.SEND_A, 100 + v));
    }
    return List.of(
        new Scenario(
            capacity,
            List.of(),
            List.of(
                List.of(call(Op.SELECT_RECEIVE, 0)),
                List.of(call(Op.SELECT_RECEIVE, 0)),
                List.of(call(Op.SEND_A, 1), call(Op.SEND_B, 2))),
            pollBoth),
        new Scenario(
            capacity,
            List.of(),
            List.of(List.of(call(Op.SELECT_AB, 1)), List.of(call(Op.SELECT_BA, 2))),
            pollBoth),
        new Scenario(
            capacity,
            List.of(),
            List.of(
                List.of(call(Op.RECEIVE_A, 0)),
                List.of(call(Op.RECEIVE_A, 0)),
                List.of(call(Op.SELECT_AB, 1), call(Op.SELECT_AB, 2))),
            pollBoth),
        new Scenario(
            capacity,
            fullA,
            List.of(List.of(call(Op.SELECT_AB, 9)), List.of(call(Op.RECEIVE_A, 0))),
            pollBoth),
        new Scenario(
            capacity,
            fullA,
            List.of(
                List.of(call(Op.SELECT_AB, 9)),
                List.of(call(Op.SELECT_RECEIVE, 0)),
                List.of(call(Op.FAIL_A, 1))),
            pollBoth),
        new Scenario(
            capacity,
            List.of(),
            List.of(
                List.of(call(Op.SELECT_RECEIVE, 0)),
                List.of(call(Op.SELECT_BA, 3)),
                List.of(call(Op.CLOSE_A, 0), call(Op.CLOSE_B, 0))),
            pollBoth));
  }

  /**
   * A random must-complete scenario: 2 or 3 threads of 1 to 3 calls, mostly blocking selects and
   * sends and receives; for buffered channels some sends before. Sent values are distinct.
   */
  static Scenario generate(int capacity, Random rnd) {
    while (true) {
      int[] value = {1};
      List<Call> init = new ArrayList<>();
      if (capacity > 0) {
        for (int i = rnd.nextInt(capacity + 1); i > 0; i--) {
          init.add(call(rnd.nextBoolean() ? Op.SEND_A : Op.SEND_B, value[0]++));
        }
      }
      List<List<Call>> threads = new ArrayList<>();
      for (int t = 2 + rnd.nextInt(2); t > 0; t--) {
        List<Call> calls = new ArrayList<>();
        for (int i = 1 + rnd.nextInt(3); i > 0; i--) {
          Op op = randomOp(capacity, rnd);
          calls.add(call(op, op == Op.FAIL_A || op == Op.FAIL_B ? 1 + rnd.nextInt(2) : value[0]++));
        }
        threads.add(calls);
      }
      List<Call> post = List.of(call(Op.POLL_A, 0), call(Op.POLL_B, 0));
      Scenario s = new Scenario(capacity, init, threads, post);
      boolean blocking = threads.stream().flatMap(List::stream).anyMatch(c -> c.op.blocks());
      if (blocking && s.mustComplete()) {
        return s;
      }
    }
  }

  private static Op randomOp(int capacity, Random rnd) {
    int r = rnd.nextInt(100);
    if (r < 40) {
      Op[] selects =
          capacity == 0
              ? new Op[] {Op.SELECT_RECEIVE, Op.SELECT_AB, Op.SELECT_BA}
              : new Op[] {Op.SELECT_RECEIVE, Op.SELECT_AB, Op.SELECT_BA, Op.SELECT_SEND};
      return selects[rnd.nextInt(selects.length)];
    } else if (r < 60) {
      return rnd.nextBoolean() ? Op.SEND_A : Op.SEND_B;
    } else if (r < 78) {
      return rnd.nextBoolean() ? Op.RECEIVE_A : Op.RECEIVE_B;
    } else if (r < 84) {
      return rnd.nextBoolean() ? Op.POLL_A : Op.POLL_B;
    } else if (r < 90) {
      return rnd.nextBoolean() ? Op.CLOSE_A : Op.CLOSE_B;
    } else if (r < 93) {
      return rnd.nextBoolean() ? Op.FAIL_A : Op.FAIL_B;
    } else if (capacity == 0) {
      return Op.SELECT_RECEIVE_OR_DEFAULT;
    } else {
      Op[] rest = {
        Op.SELECT_RECEIVE_OR_DEFAULT,
        Op.SELECT_SEND_OR_DEFAULT,
        Op.SELECT_MIXED_OR_DEFAULT,
        Op.TRY_SEND_A,
        Op.TRY_SEND_B
      };
      return rest[rnd.nextInt(rest.length)];
    }
  }
}
