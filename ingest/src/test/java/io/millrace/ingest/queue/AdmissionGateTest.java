package io.millrace.ingest.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Timeout;

/** Closing the gate and entering it are one atomic step: nobody gets in after close. */
@Timeout(30)
class AdmissionGateTest {

  @RepeatedTest(20)
  void nobodyIsInsideOnceCloseHasWaitedAndNobodyEntersAfterwards() throws Exception {
    AdmissionGate gate = new AdmissionGate();
    AtomicLong inside = new AtomicLong();
    AtomicLong enteredAfterClose = new AtomicLong();
    AtomicBoolean closedAndEmpty = new AtomicBoolean();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (gate.tryEnter()) {
                      if (closedAndEmpty.get()) {
                        enteredAfterClose.incrementAndGet();
                      }
                      inside.incrementAndGet();
                      Thread.onSpinWait();
                      inside.decrementAndGet();
                      gate.exit();
                    }
                  }));
    }
    Thread.sleep(5);
    gate.close();
    assertThat(gate.awaitEmpty(5, TimeUnit.SECONDS)).isTrue();
    closedAndEmpty.set(true);
    assertThat(inside.get()).as("inside after awaitEmpty").isZero();
    for (Thread t : threads) {
      t.join();
    }
    assertThat(enteredAfterClose.get()).isZero();
    assertThat(gate.tryEnter()).isFalse();
    assertThat(gate.inside()).isZero();
  }
}
