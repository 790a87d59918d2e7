package io.millrace.ingest.queue;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link JobSource#jobs()} over a blocking take: {@code hasNext()} blocks in {@link Take#take}
 * until a job is there or the iteration has ended. An interrupt while waiting ends the iteration
 * with a {@link CancellationException}, the interrupt flag set again. For one reader.
 */
public final class JobIterator implements Iterator<Job> {

  /** The blocking step of a job source. */
  @FunctionalInterface
  public interface Take {
    /**
     * {@return the next job, waiting while there is none; null once the iteration has ended}
     *
     * @throws InterruptedException if interrupted while waiting
     */
    Job take() throws InterruptedException;
  }

  private final Take take;
  private Job next;
  private boolean ended;

  /**
   * Creates the iterator.
   *
   * @param take the source's blocking step
   */
  public JobIterator(Take take) {
    this.take = take;
  }

  /**
   * {@return the one iterator of a source: a new one the first time, an {@link
   * IllegalStateException} after that}
   *
   * @param iterated the source's flag, set by the first call
   * @param take the source's blocking step
   */
  public static JobIterator once(AtomicBoolean iterated, Take take) {
    if (!iterated.compareAndSet(false, true)) {
      throw new IllegalStateException("jobs() may be called once");
    }
    return new JobIterator(take);
  }

  @Override
  public boolean hasNext() {
    if (next != null) {
      return true;
    }
    if (ended) {
      return false;
    }
    try {
      next = take.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while waiting for jobs");
    }
    ended = next == null;
    return !ended;
  }

  @Override
  public Job next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    Job j = next;
    next = null;
    return j;
  }
}
