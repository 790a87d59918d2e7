package io.millrace.ingest.queue.memory;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code Idempotency-Key}s admitted within the duplicate window, oldest first, at most {@value
 * #MAX_KEYS} (the oldest forgotten first). Not thread-safe: guarded by its queue's lock. Held in
 * memory only: a restart forgets every key.
 */
public final class IdempotencyWindow {
  /** Keys remembered at most. */
  public static final int MAX_KEYS = 100_000;

  // key -> {when it was admitted (clock ms), how many payloads}
  private final LinkedHashMap<String, long[]> keys = new LinkedHashMap<>();
  private long windowMs = 120_000;

  /** Creates an empty window of 120 s. */
  public IdempotencyWindow() {}

  /** Sets how long a key is remembered, in milliseconds. */
  public void windowMs(long windowMs) {
    this.windowMs = windowMs;
  }

  /**
   * Forgets keys older than the window, then {@return how many payloads the request under this key
   * held, or -1 if it was not admitted within the window}
   */
  public long seen(String key, long now) {
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
  public void remember(String key, long now, long payloads) {
    keys.put(key, new long[] {now, payloads});
  }
}
