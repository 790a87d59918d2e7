package io.millrace.ingest.queue.memory;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.Handover;
import io.millrace.ingest.queue.Intake;
import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.JobIterator;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.JobSource;
import io.millrace.ingest.queue.Receipt;
import io.millrace.ingest.queue.Redelivery;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The in-process queue, both {@link Intake} and {@link JobSource}: a FIFO of waiting jobs plus a
 * FIFO of the entries of jobs handed out, both inside one {@link Budget} and one lock (no per-job
 * concurrent set: the lock is already held to hand a job out, and acknowledgements come a batch at
 * a time). A stored job's entry lets go of the job at once and leaves the handed-out FIFO when
 * every older job is stored too; at most about twice {@code maxPayloads} such empty entries may
 * wait behind a stuck upload before admission answers full.
 *
 * <p>Admission takes one lock per request and never waits. Memory is bounded: waiting plus
 * unacknowledged jobs never exceed {@code maxPayloads} payloads and {@code maxBytes} bytes (replays
 * aside). Ids are {@code <run-id>-<sequence as 12 hex digits>}; the run id is unique per process
 * start, so ids never repeat across restarts.
 *
 * <p>Volatile: a crash loses what is not stored. At shutdown {@link #handOver} writes it to spill
 * files, which {@link #open} replays; jobs can never be given back (uploads retry until stored).
 */
public final class MemoryJobQueue implements JobQueue, Intake, JobSource {
  private final Budget budget;
  private final byte[] idPrefix;
  private final LongSupplier clock;
  private final SpillArchive archive; // null: no spill folder (tests)
  private final AtomicBoolean iterated = new AtomicBoolean();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  // guarded by lock
  private final ArrayDeque<Job> waiting = new ArrayDeque<>();
  private long sequence;
  private boolean admissionClosed;
  private boolean abandoned;
  // entries handed out (or replayed as formed batches), in that order; acknowledged ones are
  // popped from the head, so a stored job's entry stays here (without its job) only while an
  // older one is still in flight
  private final ArrayDeque<Entry> handedOut = new ArrayDeque<>();
  private final IdempotencyWindow keys = new IdempotencyWindow();

  /** This queue's receipt: the job until it is stored, and the spill file it was read from. */
  private static final class Entry implements Receipt {
    final MemoryJobQueue owner;
    final SpillFile origin; // null unless replayed from a spill file
    Job job; // null once stored; guarded by the owner's lock
    boolean acked; // guarded by the owner's lock

    Entry(MemoryJobQueue owner, SpillFile origin) {
      this.owner = owner;
      this.origin = origin;
    }
  }

  /**
   * Creates a queue without a spill folder ({@link #handOver} then fails).
   *
   * @param maxPayloads payloads admitted and not yet stored, at most
   * @param maxBytes payload bytes admitted and not yet stored, at most
   * @param runId prefix of every id this queue assigns
   * @param clock epoch milliseconds, for the admission time
   */
  MemoryJobQueue(long maxPayloads, long maxBytes, String runId, LongSupplier clock) {
    this(maxPayloads, maxBytes, runId, clock, null);
  }

  private MemoryJobQueue(
      long maxPayloads, long maxBytes, String runId, LongSupplier clock, SpillArchive archive) {
    this.budget = new Budget(maxPayloads, maxBytes);
    this.idPrefix = (runId + "-").getBytes(StandardCharsets.US_ASCII);
    this.clock = clock;
    this.archive = archive;
  }

  /**
   * Opens the queue of a service: its limits and duplicate window from the configuration, and what
   * the last run spilled to {@code <dataDir>/spill/} taken in again before anything new is
   * admitted. A spilled formed batch is replayed whole ({@link #replayedBatches()}) in batched
   * mode, else its payloads wait like the rest.
   *
   * @param config the service's configuration
   * @param runId prefix of every id this queue assigns
   * @param clock epoch milliseconds, for the admission time
   * @return the queue
   * @throws IOException if a spill file cannot be read (the start fails: nothing is skipped)
   */
  public static MemoryJobQueue open(Config config, String runId, LongSupplier clock)
      throws IOException {
    SpillArchive archive = new SpillArchive(Spill.dir(config.dataDir()), runId);
    MemoryJobQueue q =
        new MemoryJobQueue(config.maxQueue(), config.queueMaxBytes(), runId, clock, archive)
            .duplicateWindow(config.nats().duplicateWindowMs());
    archive.replayInto(q, config.mode() == Config.Mode.BATCHED);
    return q;
  }

  /**
   * Sets how long an {@code Idempotency-Key} is remembered (at most {@value
   * IdempotencyWindow#MAX_KEYS} keys, the oldest forgotten first).
   *
   * @param windowMs the duplicate window, milliseconds
   * @return this queue
   */
  MemoryJobQueue duplicateWindow(long windowMs) {
    lock.lock();
    try {
      keys.windowMs(windowMs);
    } finally {
      lock.unlock();
    }
    return this;
  }

  /**
   * Takes in the payloads of a spill file, bypassing the limits (they were within them when they
   * were admitted): as a formed batch handed to the workers directly, or as waiting jobs.
   *
   * @return the jobs, ids kept
   */
  List<Job> takeIn(SpillFile f, boolean asBatch) {
    List<Job> jobs = new ArrayList<>(f.lines().size());
    lock.lock();
    try {
      for (Spill.Line l : f.lines()) {
        Entry e = new Entry(this, f);
        e.job = new Job(l.id(), l.at(), l.payload(), e);
        jobs.add(e.job);
        if (asBatch) {
          handedOut.addLast(e); // handed to the workers as a batch, not by jobs()
        } else {
          waiting.addLast(e.job);
        }
      }
      budget.take(jobs.size(), sizeOf(jobs));
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
    return List.copyOf(jobs);
  }

  private static long sizeOf(Collection<Job> jobs) {
    long size = 0;
    for (Job j : jobs) {
      size += j.payload().length;
    }
    return size;
  }

  // ------------------------------------------------------------------ Intake

  @Override
  public Admission admit(List<byte[]> batch, String idempotencyKey) {
    long n = batch.size();
    long size = Budget.sizeOf(batch);
    String tooLarge = budget.tooLarge(n, size);
    if (tooLarge != null) {
      return new Admission.TooLarge(tooLarge);
    }
    long now = clock.getAsLong();
    lock.lock();
    try {
      if (admissionClosed) {
        return new Admission.ShuttingDown();
      }
      if (idempotencyKey != null) {
        long seen = keys.seen(idempotencyKey, now);
        if (seen >= 0) {
          return new Admission.Replayed((int) seen);
        }
      }
      // the first bound keeps the stored entries behind a stuck upload finite
      if (handedOut.size() + n > 2 * budget.maxPayloads() + 1024 || !budget.tryTake(n, size)) {
        return new Admission.QueueFull(1);
      }
      for (byte[] b : batch) {
        Entry e = new Entry(this, null);
        e.job = new Job(Job.id(idPrefix, sequence++), now, b, e);
        waiting.addLast(e.job);
      }
      if (n > 0) {
        notEmpty.signal();
      }
      if (idempotencyKey != null) {
        keys.remember(idempotencyKey, now, n);
      }
      return new Admission.Admitted((int) n);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void closeAdmission() {
    lock.lock();
    try {
      admissionClosed = true;
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** {@return "queue saturated (...)" when 90% of either limit is taken (admission is near 429)} */
  @Override
  public String notReadyReason() {
    return budget.saturated() ? "queue saturated (" + budget + ")" : null;
  }

  // ------------------------------------------------------------------ JobSource

  @Override
  public Iterator<Job> jobs() {
    return JobIterator.once(iterated, this::take);
  }

  private Job take() throws InterruptedException {
    lock.lock();
    try {
      while (waiting.isEmpty() || abandoned) {
        if (admissionClosed || abandoned) {
          return null;
        }
        notEmpty.await();
      }
      Job next = waiting.pollFirst();
      handedOut.addLast((Entry) next.receipt()); // under the lock: always in one of the two places
      return next;
    } finally {
      lock.unlock();
    }
  }

  private Entry entryOf(Job j) {
    if (!(j.receipt() instanceof Entry e) || e.owner != this) {
      throw new IllegalArgumentException("not a job of this queue: " + j);
    }
    return e;
  }

  @Override
  public void ack(Collection<Job> stored) {
    List<SpillFile> origins = null;
    long n = 0;
    long size = 0;
    lock.lock();
    try {
      for (Job j : stored) {
        Entry e = entryOf(j);
        if (e.acked) {
          continue;
        }
        e.acked = true;
        e.job = null; // the queue no longer holds the payload
        n++;
        size += j.payload().length;
        if (e.origin != null) {
          if (origins == null) {
            origins = new ArrayList<>();
          }
          origins.add(e.origin);
        }
      }
      if (n > 0) {
        budget.release(n, size);
      }
      while (!handedOut.isEmpty() && handedOut.peekFirst().acked) {
        handedOut.pollFirst();
      }
    } finally {
      lock.unlock();
    }
    if (origins != null) {
      for (SpillFile f : origins) {
        f.stored(); // may delete a file: outside the lock
      }
    }
  }

  /** {@return empty: jobs have nowhere better to wait than here, uploads retry until stored} */
  @Override
  public Optional<Redelivery> redelivery() {
    return Optional.empty();
  }

  @Override
  public List<Job> unacknowledged() {
    lock.lock();
    try {
      List<Job> all = new ArrayList<>(waiting.size() + handedOut.size());
      all.addAll(waiting);
      for (Entry e : handedOut) {
        if (!e.acked) {
          all.add(e.job);
        }
      }
      return all;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<List<Job>> replayedBatches() {
    return archive == null ? List.of() : archive.replayedBatches();
  }

  @Override
  public int replayedPayloads() {
    return archive == null ? 0 : archive.replayedPayloads();
  }

  /**
   * Writes what is not stored to spill files under {@code <dataDir>/spill/}, each formed batch
   * whole (see {@link SpillArchive#handOver}).
   */
  @Override
  public Handover handOver(List<List<Job>> formedBatches) {
    if (archive == null) {
      throw new IllegalStateException("this queue has no spill folder");
    }
    return archive.handOver(unacknowledged(), formedBatches);
  }

  /** Ends the iteration; the jobs stay here for {@link #handOver} (nobody else could take them). */
  @Override
  public void abandon(Throwable cause) {
    lock.lock();
    try {
      abandoned = true;
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** {@return payload bytes this queue still references: waiting and handed out, not stored} */
  long retainedPayloadBytes() {
    lock.lock();
    try {
      long size = sizeOf(waiting);
      for (Entry e : handedOut) {
        size += e.job == null ? 0 : e.job.payload().length;
      }
      return size;
    } finally {
      lock.unlock();
    }
  }

  // ------------------------------------------------------------------ JobQueue

  /**
   * {@return the age of the oldest payload not stored, without a pass over the queue: the oldest
   * unacknowledged entry handed out heads its FIFO (stored ones are popped from the head), and the
   * oldest waiting job heads the other}
   */
  @Override
  public OptionalLong oldestUnstoredAgeMillis(long nowMillis) {
    long oldest = Long.MAX_VALUE;
    lock.lock();
    try {
      Entry head = handedOut.peekFirst();
      if (head != null && head.job != null) {
        oldest = head.job.admittedAtMillis();
      }
      Job waitingHead = waiting.peekFirst();
      if (waitingHead != null) {
        oldest = Math.min(oldest, waitingHead.admittedAtMillis());
      }
    } finally {
      lock.unlock();
    }
    return OptionalLong.of(oldest == Long.MAX_VALUE ? 0 : Math.max(0, nowMillis - oldest));
  }

  @Override
  public Optional<Intake> intake() {
    return Optional.of(this);
  }

  @Override
  public Optional<JobSource> source() {
    return Optional.of(this);
  }

  @Override
  public Budget budget() {
    return budget;
  }

  /**
   * Closes admission; the iteration ends once the waiting jobs are handed out. No thread to end.
   */
  @Override
  public void close() {
    closeAdmission();
  }
}
