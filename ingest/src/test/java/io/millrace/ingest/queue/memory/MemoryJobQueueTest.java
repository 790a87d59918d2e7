package io.millrace.ingest.queue.memory;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.Job;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class MemoryJobQueueTest {
  static List<byte[]> payloads(int n, int size) {
    List<byte[]> l = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      l.add(new byte[size]);
    }
    return l;
  }

  @Test
  void admitsAllOrNothingWithinBothBudgets() {
    MemoryJobQueue q = new MemoryJobQueue(10, 100, "run", () -> 0L);
    assertThat(q.admit(payloads(6, 10))).isEqualTo(new Admission.Admitted(6));
    assertThat(q.admit(payloads(5, 1))).isInstanceOf(Admission.QueueFull.class); // count
    assertThat(q.admit(payloads(2, 30))).isInstanceOf(Admission.QueueFull.class); // bytes
    assertThat(q.budget().payloads()).isEqualTo(6);
    assertThat(q.budget().bytes()).isEqualTo(60);
    assertThat(q.admit(payloads(4, 10))).isEqualTo(new Admission.Admitted(4));
  }

  @Test
  void budgetIsReleasedOnlyByAck() {
    MemoryJobQueue q = new MemoryJobQueue(3, 1000, "run", () -> 0L);
    q.admit(payloads(3, 5));
    Iterator<Job> it = q.jobs();
    List<Job> taken = List.of(it.next(), it.next(), it.next());
    assertThat(q.admit(payloads(1, 5))).isInstanceOf(Admission.QueueFull.class);
    assertThat(q.unacknowledged()).hasSize(3);
    q.ack(taken.subList(0, 2));
    assertThat(q.budget().payloads()).isEqualTo(1);
    q.ack(taken.subList(0, 2)); // twice is once
    assertThat(q.budget().payloads()).isEqualTo(1);
    assertThat(q.admit(payloads(2, 5))).isInstanceOf(Admission.Admitted.class);
  }

  @Test
  void idsAreAssignedInOrderAndClosingEndsTheIteration() {
    MemoryJobQueue q = new MemoryJobQueue(100, 1000, "abc", () -> 42L);
    q.admit(payloads(2, 1));
    q.closeAdmission();
    assertThat(q.admit(payloads(1, 1))).isInstanceOf(Admission.ShuttingDown.class);
    Iterator<Job> it = q.jobs();
    assertThat(it.next().id()).isEqualTo("abc-000000000000");
    Job second = it.next();
    assertThat(second.id()).isEqualTo("abc-000000000001");
    assertThat(second.admittedAtMillis()).isEqualTo(42L);
    assertThat(it.hasNext()).isFalse();
  }

  @Test
  void acksOutOfOrderLeaveExactlyTheUnstoredJobsAndDropStoredPayloads() {
    MemoryJobQueue q = new MemoryJobQueue(10, 1000, "run", () -> 0L);
    q.admit(payloads(5, 3));
    Iterator<Job> it = q.jobs();
    List<Job> all = List.of(it.next(), it.next(), it.next(), it.next(), it.next());
    q.ack(List.of(all.get(1), all.get(3)));
    assertThat(q.unacknowledged()).containsExactlyInAnyOrder(all.get(0), all.get(2), all.get(4));
    // the stored jobs' entries wait behind all.get(0), but without their payloads
    assertThat(q.retainedPayloadBytes()).isEqualTo(3 * 3);
    q.ack(List.of(all.get(0), all.get(2), all.get(4)));
    assertThat(q.unacknowledged()).isEmpty();
    assertThat(q.budget().payloads()).isZero();
    assertThat(q.budget().bytes()).isZero();
  }

  @Test
  void storedJobsBehindAStuckOneCannotGrowWithoutBound() {
    MemoryJobQueue q = new MemoryJobQueue(10, 1_000_000, "run", () -> 0L);
    Iterator<Job> it = q.jobs();
    q.admit(payloads(1, 1));
    Job stuck = it.next(); // never acknowledged
    int admitted = 0;
    for (int round = 0; round < 10_000; round++) {
      if (!(q.admit(payloads(5, 1)) instanceof Admission.Admitted)) {
        break;
      }
      admitted += 5;
      List<Job> batch = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        batch.add(it.next());
      }
      q.ack(batch);
    }
    assertThat(admitted).isLessThanOrEqualTo(2 * 10 + 1024);
    q.ack(List.of(stuck));
    assertThat(q.admit(payloads(5, 1))).isInstanceOf(Admission.Admitted.class);
  }
}
