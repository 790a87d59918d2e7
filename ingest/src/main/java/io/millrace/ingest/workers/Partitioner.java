package io.millrace.ingest.workers;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Cuts a stream of payloads into batches, one open batch per partition (the partition being the
 * payloads' key-template field values, see {@link KeyTemplate#partition}).
 *
 * <p>An open batch is cut when it holds {@code maxPayloads} payloads; before a payload would take
 * it over {@code maxBytes} (a payload larger than that alone makes a batch of one); when it is
 * {@code maxAge} old (from its first payload), by {@link #cutAged}; when a payload opens a new
 * partition while {@code maxOpenPartitions} are open (the oldest open batch is cut first, so memory
 * stays bounded whatever the cardinality: at most {@code maxOpenPartitions} batches of at most
 * {@code maxPayloads} payloads and {@code maxBytes} bytes each); and by {@link #cut} or {@link
 * #flush}.
 *
 * <p>Deterministic: which batches are cut depends only on the sequence of calls and their
 * arguments. Every rule but age is a function of the payloads alone; an age cut is a call the
 * caller can record (which partition, after which payload) and replay with {@link #cut}, so that a
 * replay after a crash cuts the same batches and their keys are the same. "Oldest" is the order in
 * which batches were opened, never a clock reading.
 *
 * <p>Not thread-safe: one batching thread owns it. Payloads are kept by reference, not copied.
 *
 * @param <K> the partition (with {@code equals} and {@code hashCode})
 * @param <T> a payload (or the job that holds it)
 */
final class Partitioner<K, T> {

  /** Why a batch was cut. */
  enum Cut {
    /** It reached {@code maxPayloads}. */
    PAYLOADS,
    /** The next payload would have taken it over {@code maxBytes}, or it reached them. */
    BYTES,
    /** It was {@code maxAge} old. */
    AGE,
    /** A new partition needed its room ({@code maxOpenPartitions}). */
    EVICTED,
    /** The caller cut it ({@link #cut}: a replayed age cut, a shutdown). */
    EXPLICIT
  }

  /**
   * When batches are cut.
   *
   * @param maxPayloads payloads per batch, at least 1 ({@code MILLRACE_BATCH_MAX_PAYLOADS})
   * @param maxBytes bytes per batch, at least 1, each payload counting its length plus one for its
   *     newline ({@code MILLRACE_BATCH_MAX_BYTES})
   * @param maxAgeNanos how long a batch stays open after its first payload, at least 1 ({@code
   *     MILLRACE_BATCH_MAX_AGE_MS})
   * @param maxOpenPartitions batches open at once, at least 1 ({@code
   *     MILLRACE_BATCH_MAX_OPEN_PARTITIONS})
   */
  record Limits(int maxPayloads, long maxBytes, long maxAgeNanos, int maxOpenPartitions) {
    Limits {
      atLeastOne(maxPayloads, "maxPayloads");
      atLeastOne(maxBytes, "maxBytes");
      atLeastOne(maxAgeNanos, "maxAgeNanos");
      atLeastOne(maxOpenPartitions, "maxOpenPartitions");
    }

    private static void atLeastOne(long v, String name) {
      if (v < 1) {
        throw new IllegalArgumentException(name + " must be at least 1: " + v);
      }
    }
  }

  /**
   * A cut batch: its partition, its payloads in the order they were added, their bytes (with
   * newlines), and why it was cut. The caller owns the list.
   */
  record Batch<K, T>(K partition, List<T> items, long bytes, Cut cut) {}

  private static final class Open<T> {
    final ArrayList<T> items = new ArrayList<>();
    final long openedAt;
    long bytes;

    Open(long openedAt) {
      this.openedAt = openedAt;
    }
  }

  private final Limits limits;
  private final LinkedHashMap<K, Open<T>> open; // in the order the batches were opened
  private int heldItems;
  private long heldBytes;

  Partitioner(Limits limits) {
    this.limits = Objects.requireNonNull(limits, "limits");
    this.open = new LinkedHashMap<>(Math.min(1024, limits.maxOpenPartitions() * 2));
  }

  /**
   * Adds one payload to its partition's open batch, opening one if needed.
   *
   * @param partition the payload's partition
   * @param item the payload
   * @param bytes its size without the newline
   * @param nowNanos the caller's clock, for the new batch's age (not used otherwise)
   * @return the batches this cut, in the order they were cut (often none; at most two)
   */
  List<Batch<K, T>> add(K partition, T item, long bytes, long nowNanos) {
    Objects.requireNonNull(partition, "partition");
    long size = bytes + 1;
    List<Batch<K, T>> cut = List.of();
    Open<T> batch = open.get(partition);
    if (batch != null && batch.bytes + size > limits.maxBytes()) {
      cut = append(cut, close(partition, Cut.BYTES));
      batch = null;
    }
    if (batch == null) {
      if (open.size() >= limits.maxOpenPartitions()) {
        K eldest = open.keySet().iterator().next();
        cut = append(cut, close(eldest, Cut.EVICTED));
      }
      batch = new Open<>(nowNanos);
      open.put(partition, batch);
    }
    batch.items.add(item);
    batch.bytes += size;
    heldItems++;
    heldBytes += size;
    if (batch.items.size() >= limits.maxPayloads()) {
      cut = append(cut, close(partition, Cut.PAYLOADS));
    } else if (batch.bytes >= limits.maxBytes()) {
      cut = append(cut, close(partition, Cut.BYTES));
    }
    return cut;
  }

  /**
   * Cuts every batch that is {@code maxAge} old or older.
   *
   * @param nowNanos the caller's clock
   * @return those batches, oldest first
   */
  List<Batch<K, T>> cutAged(long nowNanos) {
    List<Batch<K, T>> cut = List.of();
    for (Iterator<Map.Entry<K, Open<T>>> it = open.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<K, Open<T>> e = it.next();
      if (nowNanos - e.getValue().openedAt < limits.maxAgeNanos()) {
        break; // opened in order, so every later one is younger
      }
      it.remove();
      cut = append(cut, batchOf(e.getKey(), e.getValue(), Cut.AGE));
    }
    return cut;
  }

  /**
   * {@return when the oldest open batch comes of age, on the caller's clock; {@link Long#MAX_VALUE}
   * if none is open}
   */
  long nextAgeDeadline() {
    if (open.isEmpty()) {
      return Long.MAX_VALUE;
    }
    return open.values().iterator().next().openedAt + limits.maxAgeNanos();
  }

  /**
   * Cuts one partition's open batch.
   *
   * @param partition the partition
   * @return its batch, empty if it has none open
   */
  Optional<Batch<K, T>> cut(K partition) {
    return open.containsKey(partition)
        ? Optional.of(close(partition, Cut.EXPLICIT))
        : Optional.empty();
  }

  /** {@return every open batch, cut, oldest first; nothing stays open} */
  List<Batch<K, T>> flush() {
    List<Batch<K, T>> cut = new ArrayList<>(open.size());
    for (Map.Entry<K, Open<T>> e : open.entrySet()) {
      cut.add(batchOf(e.getKey(), e.getValue(), Cut.EXPLICIT));
    }
    open.clear();
    return cut;
  }

  /** {@return how many batches are open} */
  int openPartitions() {
    return open.size();
  }

  /** {@return how many payloads the open batches hold} */
  int heldItems() {
    return heldItems;
  }

  /** {@return the bytes (with newlines) the open batches hold} */
  long heldBytes() {
    return heldBytes;
  }

  private Batch<K, T> close(K partition, Cut why) {
    return batchOf(partition, open.remove(partition), why);
  }

  private Batch<K, T> batchOf(K partition, Open<T> b, Cut why) {
    heldItems -= b.items.size();
    heldBytes -= b.bytes;
    return new Batch<>(partition, b.items, b.bytes, why);
  }

  private static <B> List<B> append(List<B> list, B b) {
    if (list.isEmpty()) {
      List<B> l = new ArrayList<>(2);
      l.add(b);
      return l;
    }
    list.add(b);
    return list;
  }
}
