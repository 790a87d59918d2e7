package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(60)
class ChannelTest {

  private static <T> Channel<T> channel(int capacity) {
    return capacity == 0 ? Channel.rendezvous() : Channel.buffered(capacity);
  }

  /** Starts a virtual thread that receives everything into a list until the channel ends. */
  private static Thread drainer(
      Channel<Integer> ch, List<Integer> into, AtomicReference<Throwable> err) {
    return Thread.ofVirtual()
        .start(
            () -> {
              try {
                for (Integer v : ch) {
                  into.add(v);
                }
              } catch (Throwable e) {
                err.set(e);
              }
            });
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2, 16, 1000})
  void deliversEveryElementInOrderThenEndsIterationOnClose(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    List<Integer> got = new ArrayList<>();
    AtomicReference<Throwable> err = new AtomicReference<>();
    Thread rx = drainer(ch, got, err);
    for (int i = 0; i < 5000; i++) {
      ch.send(i);
    }
    ch.close();
    assertThat(rx.join(Duration.ofSeconds(10))).isTrue();
    assertThat(err.get()).isNull();
    assertThat(got).hasSize(5000);
    for (int i = 0; i < 5000; i++) {
      assertThat(got.get(i)).isEqualTo(i);
    }
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {1, 2, 16, 1000})
  void closeKeepsBufferedElementsForReceiversThenReceiveThrows(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    int n = Math.min(capacity, 10);
    for (int i = 0; i < n; i++) {
      ch.send(i);
    }
    ch.close();
    assertThat(ch.isClosed()).isTrue();
    for (int i = 0; i < n; i++) {
      assertThat(ch.receive()).isEqualTo(i);
    }
    assertThatThrownBy(ch::receive)
        .isInstanceOf(ChannelClosedException.class)
        .hasNoCause()
        .satisfies(e -> assertThat(((ChannelClosedException) e).isFailure()).isFalse());
    assertThatThrownBy(ch::poll).isInstanceOf(ChannelClosedException.class);
    assertThatThrownBy(() -> ch.poll(Duration.ofMillis(10)))
        .isInstanceOf(ChannelClosedException.class);
    assertThat(ch.iterator().hasNext()).isFalse();
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2, 16, 1000})
  void sendAfterCloseThrowsAndCloseIsIdempotent(int capacity) {
    Channel<Integer> ch = channel(capacity);
    ch.close();
    ch.close();
    assertThatThrownBy(() -> ch.send(1)).isInstanceOf(ChannelClosedException.class);
    assertThatThrownBy(() -> ch.trySend(1)).isInstanceOf(ChannelClosedException.class);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2, 16, 1000})
  void failCarriesTheCauseToReceiversSendersAndIteration(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    if (capacity > 0) {
      ch.send(1); // dropped by fail
    }
    IllegalStateException boom = new IllegalStateException("boom");
    ch.fail(boom);
    assertThatThrownBy(ch::receive).isInstanceOf(ChannelClosedException.class).hasCause(boom);
    assertThatThrownBy(() -> ch.send(2)).isInstanceOf(ChannelClosedException.class).hasCause(boom);
    assertThatThrownBy(() -> ch.iterator().hasNext())
        .isInstanceOf(ChannelClosedException.class)
        .hasCause(boom);
    ch.fail(new RuntimeException("second")); // ignored
    ch.close(); // no effect
    assertThatThrownBy(ch::receive).hasCause(boom);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2, 16, 1000})
  void failWakesABlockedReceiverWithTheCause(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    AtomicReference<Throwable> seen = new AtomicReference<>();
    Thread rx =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    ch.receive();
                  } catch (Throwable e) {
                    seen.set(e);
                  }
                });
    awaitWaitingReceiver(ch);
    IllegalStateException boom = new IllegalStateException("boom");
    ch.fail(boom);
    assertThat(rx.join(Duration.ofSeconds(5))).isTrue();
    assertThat(seen.get()).isInstanceOf(ChannelClosedException.class).hasCause(boom);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2, 16, 1000})
  void interruptWhileBlockedInReceiveThrowsInterruptedException(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    AtomicReference<Throwable> seen = new AtomicReference<>();
    Thread rx =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    ch.receive();
                  } catch (Throwable e) {
                    seen.set(e);
                  }
                });
    awaitWaitingReceiver(ch);
    rx.interrupt();
    assertThat(rx.join(Duration.ofSeconds(5))).isTrue();
    assertThat(seen.get()).isInstanceOf(InterruptedException.class);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2, 16, 1000})
  void interruptWhileBlockedInSendThrowsAndTheElementIsNotDelivered(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    for (int i = 0; i < capacity; i++) {
      assertThat(ch.trySend(i)).isTrue();
    }
    assertThat(ch.trySend(-1)).isFalse();
    AtomicReference<Throwable> seen = new AtomicReference<>();
    CountDownLatch started = new CountDownLatch(1);
    Thread tx =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    started.countDown();
                    ch.send(-999);
                  } catch (Throwable e) {
                    seen.set(e);
                  }
                });
    started.await();
    awaitBlocked(tx);
    tx.interrupt();
    assertThat(tx.join(Duration.ofSeconds(5))).isTrue();
    assertThat(seen.get()).isInstanceOf(InterruptedException.class);
    ch.close();
    List<Integer> rest = new ArrayList<>();
    for (Integer v : ch) {
      rest.add(v);
    }
    assertThat(rest).hasSize(capacity).doesNotContain(-999);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2, 16, 1000})
  void closeWakesABlockedSenderWithChannelClosedException(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    for (int i = 0; i < capacity; i++) {
      ch.send(i);
    }
    AtomicReference<Throwable> seen = new AtomicReference<>();
    Thread tx =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    ch.send(-999);
                  } catch (Throwable e) {
                    seen.set(e);
                  }
                });
    awaitBlocked(tx);
    ch.close();
    assertThat(tx.join(Duration.ofSeconds(5))).isTrue();
    assertThat(seen.get()).isInstanceOf(ChannelClosedException.class);
    List<Integer> rest = new ArrayList<>();
    ch.forEach(rest::add);
    assertThat(rest).hasSize(capacity).doesNotContain(-999);
  }

  @Test
  void rendezvousSendReturnsOnlyAfterAReceiverTookTheElement() throws Exception {
    Channel<String> ch = Channel.rendezvous();
    AtomicBoolean sent = new AtomicBoolean();
    Thread tx =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    ch.send("x");
                    sent.set(true);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                });
    awaitBlocked(tx);
    assertThat(sent).isFalse();
    assertThat(ch.receive()).isEqualTo("x");
    assertThat(tx.join(Duration.ofSeconds(5))).isTrue();
    assertThat(sent).isTrue();
  }

  @Test
  void rendezvousTrySendSucceedsOnlyWithAWaitingReceiver() throws Exception {
    Channel<String> ch = Channel.rendezvous();
    assertThat(ch.trySend("nobody")).isFalse();
    AtomicReference<String> got = new AtomicReference<>();
    Thread rx =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    got.set(ch.receive());
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                });
    awaitWaitingReceiver(ch);
    assertThat(ch.trySend("hi")).isTrue();
    assertThat(rx.join(Duration.ofSeconds(5))).isTrue();
    assertThat(got.get()).isEqualTo("hi");
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 16})
  void pollWithTimeoutReturnsNullWhenNothingArrives(int capacity) throws Exception {
    Channel<Integer> ch = channel(capacity);
    long t0 = System.nanoTime();
    assertThat(ch.poll(Duration.ofMillis(50))).isNull();
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(45));
    assertThat(ch.poll()).isNull();
  }

  @Test
  void iterationInterruptedRestoresTheFlagAndThrowsCancellation() throws Exception {
    Channel<Integer> ch = Channel.buffered(4);
    AtomicReference<Throwable> seen = new AtomicReference<>();
    AtomicBoolean flag = new AtomicBoolean();
    Thread rx =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    for (Integer ignored : ch) {
                      // nothing
                    }
                  } catch (Throwable e) {
                    seen.set(e);
                    flag.set(Thread.currentThread().isInterrupted());
                  }
                });
    awaitWaitingReceiver(ch);
    rx.interrupt();
    assertThat(rx.join(Duration.ofSeconds(5))).isTrue();
    assertThat(seen.get()).isInstanceOf(CancellationException.class);
    assertThat(flag).isTrue();
  }

  @Test
  void rejectsNullElementsAndBadCapacities() {
    assertThatThrownBy(() -> Channel.buffered(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Channel.<String>buffered(1).send(null))
        .isInstanceOf(NullPointerException.class);
  }

  @ParameterizedTest(name = "capacity {0}")
  @ValueSource(ints = {0, 1, 2, 16, 1000})
  void manyProducersAndConsumersDeliverEveryElementExactlyOnce(int capacity) throws Exception {
    int iterations = Math.max(3, StressConfig.iterations() / 50);
    for (int round = 0; round < iterations; round++) {
      Channel<Integer> ch = channel(capacity);
      int producers = 4;
      int consumers = 3;
      int perProducer = 2_000;
      Set<Integer> seen = ConcurrentHashMap.newKeySet();
      AtomicReference<Throwable> err = new AtomicReference<>();
      List<Thread> tx = new ArrayList<>();
      for (int p = 0; p < producers; p++) {
        int base = p * perProducer;
        tx.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        for (int i = 0; i < perProducer; i++) {
                          ch.send(base + i);
                        }
                      } catch (Throwable e) {
                        err.set(e);
                      }
                    }));
      }
      List<Thread> rx = new ArrayList<>();
      for (int c = 0; c < consumers; c++) {
        rx.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        for (Integer v : ch) {
                          if (!seen.add(v)) {
                            err.set(new AssertionError("duplicate " + v));
                          }
                        }
                      } catch (Throwable e) {
                        err.set(e);
                      }
                    }));
      }
      for (Thread t : tx) {
        assertThat(t.join(Duration.ofSeconds(20))).isTrue();
      }
      ch.close();
      for (Thread t : rx) {
        assertThat(t.join(Duration.ofSeconds(20))).isTrue();
      }
      assertThat(err.get()).isNull();
      assertThat(seen).hasSize(producers * perProducer);
    }
  }

  static void awaitWaitingReceiver(Channel<?> ch) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!ch.hasWaitingReceivers()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no receiver blocked on " + ch);
      }
      Thread.sleep(1);
    }
  }

  static void awaitBlocked(Thread t) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(t + " did not block: " + t.getState());
      }
      Thread.sleep(1);
    }
  }
}
