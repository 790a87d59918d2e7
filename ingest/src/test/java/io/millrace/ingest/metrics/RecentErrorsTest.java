package io.millrace.ingest.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RecentErrorsTest {
  final AtomicLong now = new AtomicLong(1000);

  @Test
  void repeatsFoldIntoOneEventThatMovesToTheFront() {
    RecentErrors e = new RecentErrors(3, now::get);
    e.record("store", "refused");
    now.set(2000);
    e.record("admission", "429 queue full");
    now.set(3000);
    e.record("store", "refused");
    List<RecentErrors.Event> s = e.snapshot();
    assertThat(s)
        .containsExactly(
            new RecentErrors.Event("store", "refused", 1000, 3000, 2),
            new RecentErrors.Event("admission", "429 queue full", 2000, 2000, 1));
    assertThat(e.total()).isEqualTo(3);
  }

  @Test
  void aFloodOfOneErrorKeepsTheOthersAndTheOldestDistinctOneGoesFirst() {
    RecentErrors e = new RecentErrors(2, now::get);
    e.record("a", "1");
    e.record("b", "2");
    for (int i = 0; i < 1000; i++) {
      e.record("b", "2");
    }
    assertThat(e.snapshot()).extracting(RecentErrors.Event::kind).containsExactly("b", "a");
    e.record("c", "3");
    assertThat(e.snapshot()).extracting(RecentErrors.Event::kind).containsExactly("c", "b");
    assertThat(e.total()).isEqualTo(1003);
  }

  @Test
  void longMessagesAreCut() {
    RecentErrors e = new RecentErrors(1, now::get);
    e.record("store", "x".repeat(5000));
    assertThat(e.snapshot().get(0).message()).hasSize(RecentErrors.MAX_MESSAGE).endsWith("…");
    assertThatThrownBy(() -> new RecentErrors(0, now::get))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
