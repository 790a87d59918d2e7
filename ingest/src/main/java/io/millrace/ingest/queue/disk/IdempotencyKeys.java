package io.millrace.ingest.queue.disk;

import io.millrace.ingest.queue.Admission;
import io.millrace.ingest.queue.memory.IdempotencyWindow;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The Idempotency-Key window of a {@link DiskJobQueue}: the keys admitted within {@link
 * DiskQueueOptions#duplicateWindowMs} (rebuilt at start from the log's keyed records, see {@link
 * #restore}) and the keys of requests being admitted now. {@link DiskAdmission} claims a request's
 * key before its append and releases it after, remembering it if the request was admitted. A
 * request under a key admitted within the window is answered {@link Admission.Replayed} with the
 * same count; one under a key being admitted is answered {@link Admission.Unavailable} (retry).
 *
 * <p>Guarded by the queue's {@link QueueState#lock} (passed in: the window shares the one lock of
 * the queue's handed-out state), held only for the window's bookkeeping, never across I/O. {@link
 * #restore} runs at start, on the opening thread, before the queue is published.
 */
final class IdempotencyKeys {
  private final ReentrantLock lock;
  private final DiskQueueOptions options;
  // guarded by lock:
  private final IdempotencyWindow keys = new IdempotencyWindow();
  private final Set<String> keysBeingAdmitted = new HashSet<>();

  IdempotencyKeys(ReentrantLock lock, DiskQueueOptions options) {
    this.lock = lock;
    this.options = options;
    keys.windowMs(options.duplicateWindowMs());
  }

  /** Remembers the recovered keys appended within the window. At start, before any admission. */
  void restore(List<Recovery.KeyedAppend> recovered) {
    long now = options.clock().millis();
    for (Recovery.KeyedAppend k : recovered) {
      if (now - k.appendedAtMillis() < options.duplicateWindowMs()) {
        keys.remember(k.key(), k.appendedAtMillis(), k.payloads());
      }
    }
  }

  /** {@return a replay answer if the key was admitted or is being admitted, else null (claimed)} */
  Admission claim(String key) {
    lock.lock();
    try {
      long seen = keys.seen(key, options.clock().millis());
      if (seen >= 0) {
        return new Admission.Replayed((int) seen);
      }
      if (!keysBeingAdmitted.add(key)) {
        return new Admission.Unavailable(
            1, "a request with the same Idempotency-Key is being admitted; retry");
      }
      return null;
    } finally {
      lock.unlock();
    }
  }

  /** Releases a claimed key; remembers it, with its count, if its request was admitted. */
  void release(String key, boolean admitted, long n) {
    lock.lock();
    try {
      keysBeingAdmitted.remove(key);
      if (admitted) {
        keys.remember(key, options.clock().millis(), n);
      }
    } finally {
      lock.unlock();
    }
  }
}
