package io.millrace.ingest.queue.memory;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.JobSource;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The memory queue's oldest unstored age, read from the heads of its two FIFOs, agrees with the
 * queue-agnostic default (a pass over every unacknowledged job) through random admissions,
 * hand-outs and out-of-order acknowledgements.
 */
class OldestUnstoredAgeTest {
  @Test
  void theHeadsOfTheFifosTellTheSameAgeAsAPassOverEveryJob() {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    AtomicLong clock = new AtomicLong(1_000_000);
    MemoryJobQueue q = new MemoryJobQueue(10_000, 10_000_000, "run", clock::get);
    JobQueue byDefault = defaultOf(q);
    Iterator<Job> it = q.jobs();
    List<Job> handedOut = new ArrayList<>();
    int waiting = 0;
    assertThat(q.oldestUnstoredAgeMillis(clock.get())).isEqualTo(OptionalLong.of(0));
    for (int step = 0; step < 5000; step++) {
      clock.addAndGet(rnd.nextInt(50));
      switch (rnd.nextInt(3)) {
        case 0 -> {
          int n = 1 + rnd.nextInt(3);
          List<byte[]> p = new ArrayList<>();
          for (int i = 0; i < n; i++) {
            p.add("{}".getBytes(StandardCharsets.UTF_8));
          }
          q.admit(p);
          waiting += n;
        }
        case 1 -> {
          if (waiting > 0) {
            handedOut.add(it.next());
            waiting--;
          }
        }
        default -> {
          if (!handedOut.isEmpty()) {
            q.ack(List.of(handedOut.remove(rnd.nextInt(handedOut.size()))));
          }
        }
      }
      long now = clock.get();
      assertThat(q.oldestUnstoredAgeMillis(now))
          .as("seed %d, step %d", seed, step)
          .isEqualTo(byDefault.oldestUnstoredAgeMillis(now));
    }
  }

  /** The same queue, answering with JobQueue's default method. */
  private static JobQueue defaultOf(MemoryJobQueue q) {
    return new JobQueue() {
      @Override
      public Optional<io.millrace.ingest.queue.Intake> intake() {
        return q.intake();
      }

      @Override
      public Optional<JobSource> source() {
        return q.source();
      }

      @Override
      public io.millrace.ingest.queue.Budget budget() {
        return q.budget();
      }

      @Override
      public String notReadyReason() {
        return null;
      }

      @Override
      public void closeAdmission() {}

      @Override
      public void close() {}
    };
  }
}
