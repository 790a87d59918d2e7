package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Select}: behaviour for rendezvous and buffered channels, closing, timeouts, the default
 * clause, interrupts, fairness, and that a select leaves no registration behind in any channel.
 */
@Timeout(60)
@ExtendWith(NoLeakedRunThreads.class)
class SelectTest {

  static final Duration LIMIT = Duration.ofSeconds(10);

  static <T> Channel<T> channel(int capacity) {
    return capacity == 0 ? Channel.rendezvous() : Channel.buffered(capacity);
  }

  /** {@return how many select registrations are queued in {@code ch}} */
  static int registrations(Channel<?> ch) {
    ch.lock.lock();
    try {
      return ch.waiters.size();
    } finally {
      ch.lock.unlock();
    }
  }

  static void assertNoRegistrations(Channel<?>... channels) {
    for (Channel<?> ch : channels) {
      assertThat(registrations(ch)).as("select registrations left in %s", ch).isZero();
    }
  }

  /** Waits (bounded) until {@code n} select registrations are queued in {@code ch}. */
  static void awaitRegistrations(Channel<?> ch, int n) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (registrations(ch) != n) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("expected " + n + " registrations in " + ch);
      }
      Thread.sleep(1);
    }
  }

  /** Waits (bounded) until a thread is blocked in {@code receive} on {@code ch}. */
  static void awaitBlockedReceiver(Channel<?> ch) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (!ch.hasWaitingReceivers()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no receiver blocked on " + ch);
      }
      Thread.sleep(1);
    }
  }

  /** A virtual thread running {@code body}, its result or failure kept. */
  static final class Async<T> {
    final AtomicReference<Object> outcome = new AtomicReference<>();
    final Thread thread;

    interface Body<T> {
      T run() throws Exception;
    }

    Async(Body<T> body) {
      thread =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      T v = body.run();
                      outcome.set(v == null ? "null" : v);
                    } catch (Throwable e) {
                      outcome.set(e);
                    }
                  });
    }

    Object join() throws InterruptedException {
      if (!thread.join(LIMIT)) {
        thread.interrupt();
        throw new AssertionError("still running after " + LIMIT + ": " + thread);
      }
      return outcome.get();
    }
  }

  // ---- receiving ----

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void receivesFromTheChannelThatHasAnElement(int capacity) throws Exception {
    Channel<String> a = channel(capacity);
    Channel<String> b = channel(capacity);
    Async<Void> sender =
        new Async<>(
            () -> {
              b.send("from b");
              return null;
            });
    String v = Select.select(a.receiveClause(s -> "a: " + s), b.receiveClause(s -> "b: " + s));
    assertThat(v).isEqualTo("b: from b");
    assertThat(sender.join()).isEqualTo("null");
    assertThat(a.poll()).isNull();
    assertThat(b.poll()).isNull();
    assertNoRegistrations(a, b);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void aWaitingSelectIsCompletedByTheFirstSenderAndLeavesNoRegistration(int capacity)
      throws Exception {
    Channel<Integer> a = channel(capacity);
    Channel<Integer> b = channel(capacity);
    Async<Integer> select = new Async<>(() -> Select.select(a.receiveClause(), b.receiveClause()));
    awaitRegistrations(a, 1);
    awaitRegistrations(b, 1);
    a.send(7); // on a rendezvous channel: returns once the select has it
    assertThat(select.join()).isEqualTo(7);
    assertNoRegistrations(a, b);
    assertThat(b.trySend(8)).isEqualTo(capacity > 0); // nobody left waiting on b
  }

  @Test
  void aReceiveClauseMapsTheElementAndAFailingFunctionStillConsumesIt() throws Exception {
    Channel<Integer> ch = Channel.buffered(2);
    ch.send(1);
    ch.send(2);
    assertThat(Select.<Object>select(ch.receiveClause(i -> i * 10))).isEqualTo(10);
    assertThatThrownBy(
            () ->
                Select.select(
                    ch.receiveClause(
                        i -> {
                          throw new IOException("bad " + i);
                        })))
        .isInstanceOf(CompletionException.class)
        .hasCauseInstanceOf(IOException.class)
        .hasRootCauseMessage("bad 2");
    assertThat(ch.size()).isZero();
  }

  // ---- sending ----

  @Test
  void aRendezvousSendClauseCompletesOnlyWhenAReceiverTakesTheElement() throws Exception {
    Channel<String> ch = Channel.rendezvous();
    Async<String> select = new Async<>(() -> Select.select(ch.sendClause("x", () -> "sent")));
    awaitRegistrations(ch, 1);
    Thread.sleep(20);
    assertThat(select.thread.isAlive()).as("select returned with no receiver").isTrue();
    assertThat(ch.receive()).isEqualTo("x");
    assertThat(select.join()).isEqualTo("sent");
    assertNoRegistrations(ch);
  }

  @Test
  void aRendezvousSendClauseIsTakenByAReceiverAlreadyBlocked() throws Exception {
    Channel<String> ch = Channel.rendezvous();
    Async<String> receiver = new Async<>(ch::receive);
    awaitBlockedReceiver(ch);
    assertThat(Select.<String>select(ch.sendClause("x", () -> "sent"))).isEqualTo("sent");
    assertThat(receiver.join()).isEqualTo("x");
    assertNoRegistrations(ch);
  }

  @Test
  void aRendezvousSendClauseWithADefaultHandsOverToABlockedReceiver() throws Exception {
    Channel<String> ch = Channel.rendezvous();
    assertThat(Select.select(ch.sendClause("nobody"), Select.defaultClause("default")))
        .isEqualTo("default");
    Async<String> receiver = new Async<>(ch::receive);
    awaitBlockedReceiver(ch);
    assertThat(Select.select(ch.sendClause("x", () -> "sent"), Select.defaultClause("default")))
        .isEqualTo("sent");
    assertThat(receiver.join()).isEqualTo("x");
  }

  @Test
  void aSendClauseWaitingOnAFullChannelIsAdmittedInOrderWhenRoomFrees() throws Exception {
    Channel<Integer> ch = Channel.buffered(2);
    ch.send(1);
    ch.send(2);
    Async<Object> select = new Async<>(() -> Select.select(ch.sendClause(3)));
    awaitRegistrations(ch, 1);
    assertThat(ch.receive()).isEqualTo(1);
    assertThat(select.join()).isEqualTo("null");
    assertThat(ch.receive()).isEqualTo(2);
    assertThat(ch.receive()).isEqualTo(3);
    assertNoRegistrations(ch);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void plainPollAndTrySendMeetAWaitingSelect(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    for (int i = 0; i < capacity; i++) {
      ch.send(100 + i); // full: a send clause has to wait
    }
    Async<Object> sender = new Async<>(() -> Select.select(ch.sendClause(1, () -> "sent")));
    awaitRegistrations(ch, 1);
    for (int i = 0; i < capacity; i++) {
      assertThat(ch.poll()).isEqualTo(100 + i);
    }
    assertThat(ch.poll()).isEqualTo(1);
    assertThat(sender.join()).isEqualTo("sent");

    Async<Integer> receiver = new Async<>(() -> Select.select(ch.receiveClause()));
    awaitRegistrations(ch, 1);
    assertThat(ch.trySend(2)).isTrue();
    assertThat(receiver.join()).isEqualTo(2);
    assertNoRegistrations(ch);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void selectsOnBothSidesOfTheSameChannelsPairUpExactlyOnce(int capacity) throws Exception {
    for (int it = 0; it < 200; it++) {
      Channel<String> ab = channel(capacity);
      Channel<String> ba = channel(capacity);
      Async<String> a =
          new Async<>(() -> Select.select(ab.sendClause("a", () -> "a sent"), ba.receiveClause()));
      Async<String> b =
          new Async<>(() -> Select.select(ab.receiveClause(), ba.sendClause("b", () -> "b sent")));
      Object ra = a.join();
      Object rb = b.join();
      List<Object> outcome = List.of(ra, rb);
      if (capacity == 0) {
        assertThat(outcome).isIn(List.of("a sent", "a"), List.of("b", "b sent"));
      } else {
        // buffered: each may send into room, or take what the other sent
        assertThat(outcome)
            .isIn(List.of("a sent", "a"), List.of("b", "b sent"), List.of("a sent", "b sent"));
        if (outcome.equals(List.of("a sent", "b sent"))) {
          assertThat(ab.poll()).isEqualTo("a");
          assertThat(ba.poll()).isEqualTo("b");
        }
      }
      assertThat(ab.poll()).isNull();
      assertThat(ba.poll()).isNull();
      assertNoRegistrations(ab, ba);
    }
  }

  @Test
  void aChannelMayAppearInSeveralClauses() throws Exception {
    Channel<Integer> ch = Channel.buffered(1);
    assertThat(Select.<String>select(ch.receiveClause(i -> "got"), ch.sendClause(5, () -> "sent")))
        .isEqualTo("sent");
    assertThat(Select.<String>select(ch.receiveClause(i -> "got " + i), ch.sendClause(6)))
        .isEqualTo("got 5");
  }

  // ---- closed and failed channels ----

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void aClosedChannelMakesItsClausesThrowAfterItIsDrained(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    Channel<Integer> idle = channel(capacity);
    if (capacity > 0) {
      ch.send(1);
    }
    ch.close();
    if (capacity > 0) {
      assertThat(Select.<Integer>select(idle.receiveClause(), ch.receiveClause())).isEqualTo(1);
    }
    assertThatThrownBy(() -> Select.select(idle.receiveClause(), ch.receiveClause()))
        .isInstanceOf(ChannelClosedException.class)
        .hasMessage("channel closed and drained")
        .hasNoCause();
    assertThatThrownBy(() -> Select.select(idle.receiveClause(), ch.sendClause(2)))
        .isInstanceOf(ChannelClosedException.class)
        .hasMessage("channel closed")
        .hasNoCause();
    assertNoRegistrations(ch, idle);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void aFailedChannelMakesItsClausesThrowWithTheCause(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    if (capacity > 0) {
      ch.send(1); // dropped by fail
    }
    IllegalStateException cause = new IllegalStateException("boom");
    ch.fail(cause);
    assertThatThrownBy(() -> Select.select(ch.receiveClause()))
        .isInstanceOf(ChannelClosedException.class)
        .hasMessage("channel failed")
        .hasCause(cause);
    assertThatThrownBy(() -> Select.select(ch.sendClause(2), Select.defaultClause(0)))
        .isInstanceOf(ChannelClosedException.class)
        .hasCause(cause);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void closingOrFailingAChannelWakesTheSelectsWaitingOnIt(int capacity) throws Exception {
    Channel<Integer> rx = channel(capacity);
    Channel<Integer> tx = channel(capacity);
    Channel<Integer> idle = channel(capacity);
    for (int i = 0; i < capacity; i++) {
      tx.send(i); // full, so a send clause waits
    }
    Async<Integer> receiving =
        new Async<>(() -> Select.select(idle.receiveClause(), rx.receiveClause()));
    Async<Object> sending =
        new Async<>(() -> Select.select(idle.receiveClause(), tx.sendClause(9)));
    awaitRegistrations(rx, 1);
    awaitRegistrations(tx, 1);
    awaitRegistrations(idle, 2);
    rx.close();
    IllegalStateException cause = new IllegalStateException("boom");
    tx.fail(cause);
    assertThat(receiving.join())
        .isInstanceOf(ChannelClosedException.class)
        .satisfies(e -> assertThat((Throwable) e).hasNoCause());
    assertThat(sending.join())
        .isInstanceOf(ChannelClosedException.class)
        .satisfies(e -> assertThat((Throwable) e).hasCause(cause));
    assertNoRegistrations(rx, tx, idle);
  }

  // ---- timeouts and the default clause ----

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1})
  void selectWithinTimesOutHavingDoneNothing(int capacity) throws Exception {
    Channel<Integer> a = channel(capacity);
    Channel<Integer> b = channel(capacity);
    for (int i = 0; i < capacity; i++) {
      b.send(i);
    }
    long t0 = System.nanoTime();
    assertThatThrownBy(
            () -> Select.selectWithin(Duration.ofMillis(50), a.receiveClause(), b.sendClause(5)))
        .isInstanceOf(TimeoutException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - t0))
        .isGreaterThanOrEqualTo(Duration.ofMillis(50));
    assertThatThrownBy(() -> Select.selectWithin(Duration.ZERO, a.receiveClause()))
        .isInstanceOf(TimeoutException.class);
    assertNoRegistrations(a, b);
    assertThat(b.size()).isEqualTo(capacity);
    if (capacity > 0) {
      a.send(1);
      assertThat(Select.<Integer>selectWithin(Duration.ZERO, a.receiveClause())).isEqualTo(1);
    }
  }

  @Test
  void selectWithinReturnsWhatArrivesBeforeTheTimeout() throws Exception {
    Channel<Integer> ch = Channel.rendezvous();
    Async<Integer> select =
        new Async<>(() -> Select.selectWithin(Duration.ofSeconds(10), ch.receiveClause()));
    awaitRegistrations(ch, 1);
    ch.send(3);
    assertThat(select.join()).isEqualTo(3);
    assertNoRegistrations(ch);
  }

  @Test
  void theDefaultClauseIsChosenOnlyWhenNothingElseIsReady() throws Exception {
    Channel<Integer> ch = Channel.buffered(1);
    SelectClause<Integer> dflt = Select.defaultClause(-1);
    assertThat(Select.select(dflt, ch.receiveClause())).isEqualTo(-1);
    assertThat(Select.<Object>select(ch.receiveClause(), Select.defaultClause(null))).isNull();
    ch.send(4);
    for (int i = 0; i < 20; i++) { // wherever it is in the list
      assertThat(Select.select(dflt, ch.receiveClause(), ch.sendClause(i))).isEqualTo(4);
      ch.send(4);
    }
    assertThat(Select.selectWithin(Duration.ofSeconds(5), ch.receiveClause(), dflt)).isEqualTo(4);
    assertThat(Select.selectWithin(Duration.ofSeconds(5), ch.receiveClause(), dflt)).isEqualTo(-1);
    assertNoRegistrations(ch);
  }

  @Test
  void badClauseListsAreRejected() {
    Channel<Integer> ch = Channel.buffered(1);
    assertThatThrownBy(() -> Select.select()).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                Select.select(ch.receiveClause(), Select.defaultClause(1), Select.defaultClause(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("more than one default");
    assertThatThrownBy(() -> Select.select(ch.receiveClause(), null))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> ch.sendClause(null)).isInstanceOf(NullPointerException.class);
  }

  // ---- interrupts ----

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void anInterruptedThreadSelectsNothing(int capacity) throws Exception {
    Channel<Integer> ch = Channel.buffered(1);
    ch.send(1);
    Channel<Integer> other = channel(capacity);
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> Select.select(ch.receiveClause(), other.sendClause(2)))
        .isInstanceOf(InterruptedException.class);
    assertThat(Thread.interrupted()).isFalse();
    assertThat(ch.size()).isEqualTo(1);
    assertThat(other.size()).isZero();
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void anInterruptWhileWaitingThrowsAndLeavesNothingHalfDone(int capacity) throws Exception {
    Channel<Integer> rx = channel(capacity);
    Channel<Integer> tx = channel(capacity);
    for (int i = 0; i < capacity; i++) {
      tx.send(i);
    }
    Async<Object> select = new Async<>(() -> Select.select(rx.receiveClause(), tx.sendClause(99)));
    awaitRegistrations(rx, 1);
    awaitRegistrations(tx, 1);
    select.thread.interrupt();
    assertThat(select.join()).isInstanceOf(InterruptedException.class);
    assertNoRegistrations(rx, tx);
    List<Integer> left = new ArrayList<>();
    for (Integer v; (v = tx.poll()) != null; ) {
      left.add(v);
    }
    assertThat(left).doesNotContain(99).hasSize(capacity);
    assertThat(rx.trySend(5)).isEqualTo(capacity > 0); // the select is no receiver any more
  }

  // ---- fairness ----

  @Test
  void twoAlwaysReadyChannelsEachWinAtLeast30PercentOf10kSelects() throws Exception {
    int n = 10_000;
    Channel<Integer> a = Channel.buffered(n);
    Channel<Integer> b = Channel.buffered(n);
    for (int i = 0; i < n; i++) {
      a.send(i);
      b.send(i);
    }
    int[] wins = new int[2];
    for (int i = 0; i < n; i++) {
      wins[Select.<Integer>select(a.receiveClause(x -> 0), b.receiveClause(x -> 1))]++;
    }
    assertThat(wins[0]).isGreaterThanOrEqualTo(n * 3 / 10);
    assertThat(wins[1]).isGreaterThanOrEqualTo(n * 3 / 10);
    assertThat(wins[0] + wins[1]).isEqualTo(n);
    assertThat(a.size() + b.size()).isEqualTo(n);
  }

  @Test
  void aLaterReadyClauseIsNotStarvedBySendClausesBeforeIt() throws Exception {
    int n = 10_000;
    Channel<Integer> roomy = Channel.buffered(n);
    Channel<Integer> full = Channel.buffered(n);
    for (int i = 0; i < n; i++) {
      full.send(i);
    }
    int received = 0;
    for (int i = 0; i < n; i++) {
      received += Select.<Integer>select(roomy.sendClause(i, () -> 0), full.receiveClause(x -> 1));
    }
    assertThat(received).isBetween(n * 3 / 10, n * 7 / 10);
  }

  // ---- with the rest of the library ----

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2})
  void aPipelineReadsWhatSelectsSend(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    Channel<Integer> never = channel(capacity);
    List<Integer> sent = new CopyOnWriteArrayList<>();
    Async<Void> producer =
        new Async<>(
            () -> {
              for (int i = 0; i < 500; i++) {
                Select.select(ch.sendClause(i), never.receiveClause());
                sent.add(i);
              }
              ch.close();
              return null;
            });
    List<Integer> got = Pipeline.from(ch).toList();
    assertThat(producer.join()).isEqualTo("null");
    assertThat(got).isEqualTo(sent).hasSize(500);
    assertNoRegistrations(ch, never);
  }
}
