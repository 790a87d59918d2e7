package io.millrace.ingest.queue.jetstream;

import io.nats.client.JetStreamApiException;
import io.nats.client.KeyValue;
import io.nats.client.api.KeyValueEntry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The batch ledger: which batch each payload of the work-queue stream belongs to, kept in a
 * JetStream key-value bucket so that any worker, after any crash, rebuilds a batch exactly as it
 * was fixed and stores it under the same key.
 *
 * <p>Three kinds of entries:
 *
 * <ul>
 *   <li>{@code b.<name>}, the <b>intent</b> of batch {@code name}: its {@link Part}s in order.
 *       Written once ({@code create}) before any of its claims.
 *   <li>{@code c.<seq / BLOCK>}, the <b>claims</b> of a block of {@value #BLOCK} stream sequences:
 *       lines {@code <seq> <from> <to> <batch name>}. A part is added only if it overlaps no part
 *       claimed before ({@code update} with the revision read, retried on a conflict), so every
 *       payload is claimed by at most one batch, and a claim, once made, never changes.
 *   <li>{@code s.<name>}: batch {@code name} was stored whole, written before any of its messages
 *       is acknowledged (a message of it may still come back: an ack lost, several messages
 *       redelivered in several pulls; the rebuild it starts must not store a subset under the same
 *       key).
 * </ul>
 *
 * <p>The content rule: <b>batch {@code B} holds exactly the parts of its intent that are claimed by
 * {@code B}</b>, in intent order, once every part of its intent is settled (claimed by {@code B} or
 * blocked by an overlapping claim of another batch). {@link #claim} settles every part it is given,
 * so whoever calls it for {@code B} — the worker that formed it, or any worker rebuilding it after
 * a redelivery — computes the same content; with the key derived from the name, every upload of
 * {@code B}, late or not, writes the same bytes under the same key. A payload in two batches would
 * need two claims on it, which the compare-and-set excludes.
 *
 * <p>A claim in a block entry that did not exist yet is checked against the stream's first sequence
 * (the oldest message not yet acknowledged): a worker that wakes up after its messages were stored,
 * acknowledged and their claims entry removed finds them below it; they are claimed as {@link
 * #GONE}, by no batch.
 *
 * <p>Needs nothing newer than nats-server 2.9 (KV compare-and-set by revision, error 10071 on a
 * conflict). Thread-safe: all state is in the bucket.
 */
final class Ledger {
  /** Stream sequences per claims entry. */
  static final int BLOCK = 256;

  /**
   * The batch name of a claim on payloads found already acknowledged (below the stream's first
   * sequence) when their claims entry was created again; no batch is named so.
   */
  static final String GONE = "~";

  private static final int WRONG_LAST_SEQUENCE = 10071;
  private static final int MAX_CONFLICTS = 1000;

  private final KeyValue kv;
  private final LongSupplier firstSequence;

  /**
   * @param kv the bucket
   * @param firstSequence the work-queue stream's first sequence now (its oldest message); called
   *     only when a claims entry is created
   */
  Ledger(KeyValue kv, LongSupplier firstSequence) {
    this.kv = kv;
    this.firstSequence = firstSequence;
  }

  /** A batch's intent: its name and its parts, in order. */
  record Intent(String name, List<Part> parts) {
    Intent {
      parts = List.copyOf(parts);
      if (parts.isEmpty()) {
        throw new IllegalArgumentException("an intent holds at least one part");
      }
    }

    byte[] encode() {
      StringBuilder b = new StringBuilder(parts.size() * 16);
      for (Part p : parts) {
        b.append(p.text()).append('\n');
      }
      return b.toString().getBytes(StandardCharsets.US_ASCII);
    }

    static Intent decode(String name, byte[] value) {
      List<Part> parts = new ArrayList<>();
      for (String line : new String(value, StandardCharsets.US_ASCII).split("\n")) {
        if (!line.isEmpty()) {
          parts.add(Part.parse(line.split(" "), 0));
        }
      }
      return new Intent(name, parts);
    }
  }

  /** One claim of a claims entry: a part and the batch it belongs to. */
  record Claim(Part part, String batch) {}

  /**
   * Records a batch's intent, once: the first call for a name writes it; a later one with the same
   * parts does nothing.
   *
   * @return true if recorded (now or before) with these parts; false if the name is taken by an
   *     intent with other parts (choose another name)
   */
  boolean record(Intent intent) throws IOException, JetStreamApiException {
    try {
      kv.create(intentKey(intent.name()), intent.encode());
      return true;
    } catch (JetStreamApiException e) {
      if (e.getApiErrorCode() != WRONG_LAST_SEQUENCE) {
        throw e;
      }
    }
    Intent there = intent(intent.name());
    return there != null && there.parts().equals(intent.parts());
  }

  /** {@return the intent recorded under this name, or null} */
  Intent intent(String name) throws IOException, JetStreamApiException {
    KeyValueEntry e = kv.get(intentKey(name));
    return e == null || e.getValue() == null ? null : Intent.decode(name, e.getValue());
  }

  /**
   * Settles every part of an intent: claims for {@code intent.name()} each part no earlier claim
   * overlaps. Idempotent; safe to call from any number of workers at once.
   *
   * @return the parts of the intent claimed by its batch, in intent order: the batch's content
   * @throws IOException, JetStreamApiException if the bucket could not be read or written (nothing
   *     is lost: the call may be repeated)
   */
  List<Part> claim(Intent intent) throws IOException, JetStreamApiException {
    Map<Long, List<Part>> byBlock = new LinkedHashMap<>();
    for (Part p : intent.parts()) {
      byBlock.computeIfAbsent(p.seq() / BLOCK, b -> new ArrayList<>()).add(p);
    }
    Set<Part> mine = new LinkedHashSet<>();
    for (Map.Entry<Long, List<Part>> block : byBlock.entrySet()) {
      mine.addAll(claimInBlock(block.getKey(), block.getValue(), intent.name()));
    }
    List<Part> content = new ArrayList<>();
    for (Part p : intent.parts()) {
      if (mine.contains(p)) {
        content.add(p);
      }
    }
    return content;
  }

  private Set<Part> claimInBlock(long block, List<Part> parts, String batch)
      throws IOException, JetStreamApiException {
    String key = claimsKey(block);
    for (int attempt = 0; ; attempt++) {
      KeyValueEntry e = kv.get(key);
      List<Claim> existing =
          e == null || e.getValue() == null ? List.of() : decodeClaims(e.getValue());
      Set<Part> mine = new LinkedHashSet<>();
      List<Part> toAdd = new ArrayList<>();
      for (Part p : parts) {
        Claim over = null;
        for (Claim c : existing) {
          if (c.part().overlaps(p)) {
            over = c;
            break;
          }
        }
        if (over == null) {
          toAdd.add(p);
        } else if (over.part().equals(p) && over.batch().equals(batch)) {
          mine.add(p);
        }
      }
      if (toAdd.isEmpty()) {
        return mine;
      }
      boolean fresh = e == null || e.getValue() == null;
      List<Part> gone = new ArrayList<>();
      if (fresh) {
        // a new entry: were some of these messages stored and acknowledged long ago, their claims
        // removed since? Then they are below the stream's first sequence, and claimed as gone
        long first = firstSequence.getAsLong();
        for (Part p : toAdd) {
          if (p.seq() < first) {
            gone.add(p);
          }
        }
      }
      StringBuilder v = new StringBuilder();
      if (!fresh) {
        v.append(new String(e.getValue(), StandardCharsets.US_ASCII));
      }
      for (Part p : toAdd) {
        v.append(p.text()).append(' ').append(gone.contains(p) ? GONE : batch).append('\n');
      }
      byte[] value = v.toString().getBytes(StandardCharsets.US_ASCII);
      try {
        if (fresh) {
          kv.create(key, value);
        } else {
          kv.update(key, value, e.getRevision());
        }
      } catch (JetStreamApiException x) {
        if (x.getApiErrorCode() != WRONG_LAST_SEQUENCE || attempt >= MAX_CONFLICTS) {
          throw x;
        }
        continue; // another batch claimed in this block meanwhile: read again
      }
      toAdd.removeAll(gone);
      mine.addAll(toAdd);
      return mine;
    }
  }

  /** {@return the claims on one message's payloads} */
  List<Claim> claimsOn(long seq) throws IOException, JetStreamApiException {
    KeyValueEntry e = kv.get(claimsKey(seq / BLOCK));
    if (e == null || e.getValue() == null) {
      return List.of();
    }
    List<Claim> out = new ArrayList<>();
    for (Claim c : decodeClaims(e.getValue())) {
      if (c.part().seq() == seq) {
        out.add(c);
      }
    }
    return out;
  }

  static List<Claim> decodeClaims(byte[] value) {
    List<Claim> out = new ArrayList<>();
    for (String line : new String(value, StandardCharsets.US_ASCII).split("\n")) {
      if (!line.isEmpty()) {
        String[] f = line.split(" ");
        if (f.length != 4) {
          throw new IllegalArgumentException("not a ledger claim: " + line);
        }
        out.add(new Claim(Part.parse(f, 0), f[3]));
      }
    }
    return out;
  }

  /**
   * Records that batch {@code name} was stored whole; written before its messages are acknowledged,
   * so a later rebuild of it (its last messages redelivered after the others were acknowledged and
   * deleted) knows it has nothing to store, only messages to acknowledge. Idempotent.
   */
  void markStored(String name) throws IOException, JetStreamApiException {
    kv.put(storedKey(name), new byte[] {'1'});
  }

  /** {@return whether batch {@code name} was {@linkplain #markStored recorded stored}} */
  boolean stored(String name) throws IOException, JetStreamApiException {
    KeyValueEntry e = kv.get(storedKey(name));
    return e != null && e.getValue() != null && e.getValue().length > 0;
  }

  static String intentKey(String name) {
    return "b." + name;
  }

  static String storedKey(String name) {
    return "s." + name;
  }

  static String claimsKey(long block) {
    return "c." + block;
  }
}
