package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.AdmissionGate;
import io.millrace.ingest.queue.Job;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The consumer side of a {@link DiskJobQueue}. {@link #take} reads the log on the consumer's thread
 * from {@link QueueState#readerPosition}, hands each payload out as a {@link Slot} (unfixed, in
 * flight), waits while the jobs in flight reach {@link DiskQueueOptions#maxInFlightPayloads} or
 * {@link DiskQueueOptions#maxInFlightBytes} (at least one is always handed out), and ends the
 * iteration (null) once the queue is abandoned or closed, or admission is closed, no request is
 * inside it and every record is read. {@link #unacknowledged} is a snapshot of what is not recorded
 * stored.
 *
 * <p>The queue's {@link QueueState#lock} guards the flags and the {@link LogReader} here, with the
 * handed-out state; it is not held while the consumer waits for the next record (up to {@link
 * #POLL}), and the consumer is then marked inside so that the reader is not closed under it. The
 * reader is used by the consumer only and closed under the lock.
 */
final class JobReader {
  /** How long the consumer waits at a time, for room in flight or the next record. */
  static final Duration POLL = Duration.ofMillis(50);

  private final DiskLog log;
  private final DiskQueueOptions options;
  private final QueueState state;
  private final AdmissionGate gate;
  // all guarded by state.lock:
  private boolean admissionClosed;
  private boolean abandoned;
  private boolean consumerInside;
  private boolean closed;
  private LogReader reader; // used by the consumer of jobs() only; closed under lock

  JobReader(DiskLog log, DiskQueueOptions options, QueueState state, AdmissionGate gate) {
    this.log = log;
    this.options = options;
    this.state = state;
    this.gate = gate;
  }

  /** {@return the next job handed out, or null at the end of the iteration} */
  Job take() throws InterruptedException {
    while (true) {
      LogReader in;
      state.lock.lockInterruptibly();
      try {
        while (true) {
          if (abandoned || closed) {
            return end();
          }
          if (admissionClosed
              && gate.inside() == 0
              && state.readerPosition >= log.stats().nextPosition()) {
            return end();
          }
          if (state.inFlightPayloads == 0
              || (state.inFlightPayloads < options.maxInFlightPayloads()
                  && state.inFlightBytes < options.maxInFlightBytes())) {
            break;
          }
          state.changed.await(POLL.toNanos(), TimeUnit.NANOSECONDS);
        }
        if (reader == null) {
          try {
            reader = log.reader(state.readerPosition);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
        in = reader;
        consumerInside = true;
      } finally {
        state.lock.unlock();
      }
      LogEntry e;
      try {
        e = in.next(POLL);
      } catch (LogClosedException closedLog) {
        state.lock.lock();
        try {
          consumerInside = false;
          return end();
        } finally {
          state.lock.unlock();
        }
      } catch (IOException bad) {
        throw new UncheckedIOException(bad);
      } finally {
        state.lock.lock();
        try {
          consumerInside = false;
        } finally {
          state.lock.unlock();
        }
      }
      if (e != null) {
        state.lock.lock();
        try {
          Slot s = new Slot(state, e);
          state.unfixed.addLast(s);
          state.inFlightPayloads++;
          state.inFlightBytes += e.payload().length;
          state.readerPosition = e.position() + 1;
          return s.job;
        } finally {
          state.lock.unlock();
        }
      }
    }
  }

  /** Ends the iteration: closes the reader. Caller holds the lock. */
  private Job end() {
    closeReader();
    return null;
  }

  /** Closes the reader unless the consumer is reading it. Caller holds the lock. */
  private void closeReader() {
    if (reader != null && !consumerInside) {
      try {
        reader.close();
      } catch (IOException ignored) {
        // a read-only file
      }
      reader = null;
    }
  }

  /** Admission is closed: the iteration ends once the requests inside and the log are drained. */
  void admissionClosed() {
    state.lock.lock();
    try {
      admissionClosed = true;
      state.changed.signalAll();
    } finally {
      state.lock.unlock();
    }
  }

  /** Ends the iteration now. */
  void abandon() {
    state.lock.lock();
    try {
      abandoned = true;
      state.changed.signalAll();
    } finally {
      state.lock.unlock();
    }
  }

  /**
   * The queue is closing: ends the iteration and closes the reader if the consumer is not in it.
   */
  void close() {
    state.lock.lock();
    try {
      closed = true;
      state.changed.signalAll();
      closeReader();
    } finally {
      state.lock.unlock();
    }
  }

  /** Closes the reader once the log is closed (the consumer has left it by then, or will). */
  void closeReaderAfterLog() {
    state.lock.lock();
    try {
      closeReader();
    } finally {
      state.lock.unlock();
    }
  }

  /** {@return whether {@link #close} was called} */
  boolean isClosed() {
    state.lock.lock();
    try {
      return closed;
    } finally {
      state.lock.unlock();
    }
  }

  /** See {@link DiskJobQueue#unacknowledged}. */
  List<Job> unacknowledged() {
    List<Job> all = new ArrayList<>();
    long from;
    state.lock.lock();
    try {
      for (CutBatch f : state.fixed.values()) {
        for (Slot s : f.slots) {
          all.add(s.job);
        }
      }
      for (Slot s : state.unfixed) {
        all.add(s.job);
      }
      from = state.readerPosition;
    } finally {
      state.lock.unlock();
    }
    try (LogReader backlog = log.reader(from)) {
      for (LogEntry e; (e = backlog.next(Duration.ZERO)) != null; ) {
        all.add(new Slot(state, e).job);
      }
    } catch (LogClosedException e) {
      // read to the end
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while reading the local log", e);
    }
    return all;
  }
}
