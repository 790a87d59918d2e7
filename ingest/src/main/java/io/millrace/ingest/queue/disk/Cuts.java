package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.Budget;
import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Handover;
import io.millrace.ingest.queue.Job;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cut and acknowledgement side of a {@link DiskJobQueue}. {@link #fix} cuts a batch in the log
 * ({@link DiskLog#cut}, durable before it returns), the next unfixed jobs in order. {@link #ack}
 * marks jobs acknowledged; a cut batch whose jobs are all acknowledged is recorded stored ({@link
 * DiskLog#markStored}), which takes it out of flight and gives its budget back; a run of jobs
 * acknowledged before being fixed, at the head of the unfixed jobs, is cut and recorded stored as a
 * batch of its own. A stored record that fails (disk full) is kept and retried at the next
 * acknowledgement, fix, hand-over or close ({@link #recordPending}). {@link #handOver} fixes formed
 * batches where they are next, so a restart replays them whole. Retention of segments follows from
 * the stored records: the log deletes a stored segment once its last write is a duplicate window
 * old ({@link DiskLog#retainStored}).
 *
 * <p>Locks: {@link #fixLock} serializes cuts and the flushing of acknowledged runs (batches follow
 * each other in the log) and is held across their writes. The queue's {@link QueueState#lock}
 * guards the handed-out state and is taken only around its reads and updates, never across I/O;
 * when both are held, {@link #fixLock} is taken first.
 */
final class Cuts {
  private static final Logger LOG = LoggerFactory.getLogger(DiskJobQueue.class); // as before

  private final DiskLog log;
  private final DiskQueueOptions options;
  private final QueueState state;
  private final Budget budget;

  /** Serializes cuts and the flushing of acknowledged runs: batches follow each other. */
  private final ReentrantLock fixLock = new ReentrantLock();

  Cuts(DiskLog log, DiskQueueOptions options, QueueState state, Budget budget) {
    this.log = log;
    this.options = options;
    this.state = state;
    this.budget = budget;
  }

  /** See {@link DiskJobQueue#fix}. */
  FixedBatch fix(List<Job> batch) throws IOException, InterruptedException {
    if (batch.isEmpty()) {
      throw new IllegalArgumentException("a batch holds at least one job");
    }
    List<Slot> slots = new ArrayList<>(batch.size());
    for (Job j : batch) {
      slots.add(state.slotOf(j));
    }
    state.lock.lock();
    try {
      CutBatch known = slots.getFirst().batch;
      if (known != null) {
        if (!known.slots.equals(slots)) {
          throw new IllegalArgumentException("these jobs are in another batch: " + known.batch);
        }
        return known.batch;
      }
    } finally {
      state.lock.unlock();
    }
    fixLock.lockInterruptibly();
    try {
      flushAcknowledged();
      return cut(slots, false).batch;
    } finally {
      fixLock.unlock();
      recordPending();
    }
  }

  /**
   * Cuts {@code slots}, which must be the next unfixed jobs in order. Caller holds {@link
   * #fixLock}.
   *
   * @param acknowledged whether every slot was acknowledged already (a flushed run)
   */
  private CutBatch cut(List<Slot> slots, boolean acknowledged)
      throws IOException, InterruptedException {
    state.lock.lock();
    try {
      Iterator<Slot> head = state.unfixed.iterator();
      for (Slot s : slots) {
        if (!head.hasNext() || head.next() != s) {
          throw new IllegalArgumentException(
              "a batch must be the next jobs handed out, in order, after the last batch fixed:"
                  + " position "
                  + s.entry.position()
                  + " is not next");
        }
      }
    } finally {
      state.lock.unlock();
    }
    BatchRange range;
    try {
      range = log.cut(slots.getFirst().entry, slots.getLast().entry, options.writeTimeout());
    } catch (LogException e) {
      throw new IOException(e.getMessage(), e);
    }
    CutBatch f = new CutBatch(range, List.copyOf(slots), state.name(range));
    boolean complete;
    state.lock.lock();
    try {
      int unacked = 0;
      for (Slot s : slots) {
        state.unfixed.pollFirst();
        s.batch = f;
        if (!s.acked) {
          unacked++;
        }
      }
      f.unacked = unacked;
      state.fixed.put(range.first(), f);
      complete = unacked == 0;
    } finally {
      state.lock.unlock();
    }
    if (complete) {
      record(f);
    }
    return f;
  }

  /** Records stored every run of acknowledged, unfixed jobs at the head. Holds {@link #fixLock}. */
  private void flushAcknowledged() throws IOException, InterruptedException {
    while (true) {
      List<Slot> run = new ArrayList<>();
      state.lock.lock();
      try {
        for (Slot s : state.unfixed) {
          if (!s.acked) {
            break;
          }
          run.add(s);
        }
      } finally {
        state.lock.unlock();
      }
      if (run.isEmpty()) {
        return;
      }
      cut(run, true);
    }
  }

  /** Writes the stored record of a batch whose jobs are all acknowledged; on failure, retried. */
  private void record(CutBatch f) {
    try {
      log.markStored(f.range, options.writeTimeout());
    } catch (LogException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      LOG.warn("recording batch {} stored failed, retried later: {}", f.batch.name(), e.toString());
      state.lock.lock();
      try {
        state.toRecord.addLast(f);
      } finally {
        state.lock.unlock();
      }
      return;
    }
    state.lock.lock();
    try {
      state.fixed.remove(f.range.first());
      state.inFlightPayloads -= f.range.count();
      state.inFlightBytes -= f.range.bytes();
      state.changed.signalAll();
    } finally {
      state.lock.unlock();
    }
    budget.release(f.range.count(), f.range.bytes());
  }

  /** Retries stored records that failed. */
  void recordPending() {
    List<CutBatch> again;
    state.lock.lock();
    try {
      if (state.toRecord.isEmpty()) {
        return;
      }
      again = new ArrayList<>(state.toRecord);
      state.toRecord.clear();
    } finally {
      state.lock.unlock();
    }
    for (CutBatch f : again) {
      record(f);
    }
  }

  /** See {@link DiskJobQueue#ack(Collection)}. */
  void ack(Collection<Job> stored) {
    List<CutBatch> complete = new ArrayList<>(1);
    boolean headAcked = false;
    state.lock.lock();
    try {
      for (Job j : stored) {
        Slot s = state.slotOf(j);
        if (s.acked) {
          continue;
        }
        s.acked = true;
        if (s.batch != null) {
          if (--s.batch.unacked == 0) {
            complete.add(s.batch);
          }
        } else if (s == state.unfixed.peekFirst()) {
          headAcked = true;
        }
      }
    } finally {
      state.lock.unlock();
    }
    for (CutBatch f : complete) {
      record(f);
    }
    if (headAcked) {
      fixLock.lock();
      try {
        flushAcknowledged();
      } catch (IOException e) {
        LOG.warn("recording acknowledged payloads stored failed, retried later: {}", e.toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        fixLock.unlock();
      }
    }
    recordPending();
  }

  /** See {@link DiskJobQueue#handOver}. */
  Handover handOver(List<List<Job>> formedBatches) {
    try {
      fixLock.lockInterruptibly();
      try {
        flushAcknowledged();
        List<List<Job>> sorted = new ArrayList<>(formedBatches);
        sorted.removeIf(List::isEmpty);
        sorted.sort(
            (a, b) ->
                Long.compare(
                    state.slotOf(a.getFirst()).entry.position(),
                    state.slotOf(b.getFirst()).entry.position()));
        for (List<Job> b : sorted) {
          List<Slot> slots = new ArrayList<>();
          for (Job j : b) {
            slots.add(state.slotOf(j));
          }
          boolean next;
          state.lock.lock();
          try {
            next = slots.getFirst().batch == null && state.unfixed.peekFirst() == slots.getFirst();
          } finally {
            state.lock.unlock();
          }
          if (next) {
            try {
              cut(slots, false);
            } catch (IllegalArgumentException notNext) {
              break;
            }
          }
          flushAcknowledged();
        }
      } finally {
        fixLock.unlock();
      }
    } catch (IOException e) {
      LOG.warn("at shutdown, recording batches in the local log failed: {}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    recordPending();
    return new Handover.LeftInLog(
        (int) Math.min(Integer.MAX_VALUE, budget.payloads()), log.directory());
  }
}
