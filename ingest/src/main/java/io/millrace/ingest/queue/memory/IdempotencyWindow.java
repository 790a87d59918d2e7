package io.millrace.ingest.queue.memory;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code Idempotency-Key}s admitted within the duplicate window, oldest first, at most {@value
 * #MAX_KEYS} (the oldest forgotten first). Not thread-safe: guarded by its queue's lock.
 */
final class IdempotencyWindow {
  static final int MAX_KEYS = 100_000;

  // key -> {when it was admitted (clock ms), how many payloads}
  private final LinkedHashMap<String, long[]> keys = new LinkedHashMap<>();
  private long windowMs = 120_000;

  void windowMs(long windowMs) {
    this.windowMs = windowMs;
  }

  /**
   * Forgets keys older than the window, then {@return how many payloads the request under this key
   * held, or -1 if it was not admitted within the window}
   */
  long seen(String key, long now) {
    while (!keys.isEmpty()) {
      Map.Entry<String, long[]> oldest = keys.entrySet().iterator().next();
      if (keys.size() < MAX_KEYS && now - oldest.getValue()[0] < windowMs) {
        break;
      }
      keys.remove(oldest.getKey());
    }
    long[] seen = keys.get(key);
    return seen == null ? -1 : seen[1];
  }

  /** Remembers that the request under this key, of {@code payloads} payloads, was admitted. */
  void remember(String key, long now, long payloads) {
    keys.put(key, new long[] {now, payloads});
  }
}
