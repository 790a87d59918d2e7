package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.Receipt;
import io.nats.client.Message;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;

/**
 * The wire format of the work-queue stream. A message holds whole requests: their payloads as sent,
 * joined by {@code '\n'} (payloads are compact JSON, so never hold a raw newline), with a message
 * id, the admission time and the payload count in headers. Payload {@code i} of a message has the
 * id {@code <message id>-<i>}. Dead letters keep the original headers and add why, how often and
 * which sequence.
 *
 * <p>Thread-safe: message ids come from an atomic sequence.
 */
final class Codec {
  /** Header: the message id; payload {@code i} has the id {@code <message id>-<i>}. */
  static final String H_ID = "Millrace-Id";

  /** Header: when the request was admitted, epoch milliseconds. */
  static final String H_AT = "Millrace-Admitted-At";

  /** Header: how many payloads the message holds. */
  static final String H_COUNT = "Millrace-Count";

  /** Header on a dead letter: why it could not be stored. */
  static final String H_ERROR = "Millrace-Error";

  /** Header on a dead letter: how often it was delivered. */
  static final String H_DELIVERIES = "Millrace-Deliveries";

  /** Header on a dead letter: its sequence in the work-queue stream. */
  static final String H_SEQUENCE = "Millrace-Stream-Sequence";

  private final String subject;
  private final byte[] idPrefix;
  private final AtomicLong sequence = new AtomicLong();
  private final LongSupplier clock;

  /**
   * Creates the codec of one process.
   *
   * @param subject the subject messages are published to
   * @param runId prefix of every message id (unique per process start)
   * @param clock epoch milliseconds, for the admission time
   */
  Codec(String subject, String runId, LongSupplier clock) {
    this.subject = subject;
    this.idPrefix = (runId + "-").getBytes(StandardCharsets.US_ASCII);
    this.clock = clock;
  }

  /** {@return the body bytes one request takes in a message: its payloads and separators} */
  static int bodySize(List<byte[]> payloads) {
    int size = payloads.size() - 1;
    for (byte[] b : payloads) {
      size += b.length;
    }
    return size;
  }

  /**
   * {@return one message holding these requests, in order, with a new id}
   *
   * @param requests the requests' payloads
   * @param size the body's size: the requests' {@link #bodySize}s plus one separator between two
   * @param count how many payloads in all
   */
  NatsMessage encode(List<List<byte[]>> requests, int size, int count) {
    byte[] body = new byte[size];
    int at = 0;
    for (List<byte[]> batch : requests) {
      for (byte[] b : batch) {
        if (at > 0) {
          body[at++] = '\n';
        }
        System.arraycopy(b, 0, body, at, b.length);
        at += b.length;
      }
    }
    Headers h = new Headers();
    h.put(H_ID, Job.id(idPrefix, sequence.getAndIncrement()));
    h.put(H_AT, Long.toString(clock.getAsLong()));
    h.put(H_COUNT, Integer.toString(count));
    return NatsMessage.builder().subject(subject).headers(h).data(body).build();
  }

  /**
   * {@return the message's payloads as jobs ({@code <message id>-<index>}), each with the receipt
   * made for its index}
   *
   * @throws IllegalArgumentException if the message is not one of ours or is malformed
   */
  static List<Job> decode(Message m, IntFunction<? extends Receipt> receipts) {
    return decode(m.getHeaders(), m.getData(), receipts);
  }

  /**
   * {@return a message's payloads as jobs, from its headers and body (a message read back by its
   * sequence), each with the receipt made for its index}
   *
   * @throws IllegalArgumentException if the message is not one of ours or is malformed
   */
  static List<Job> decode(Headers h, byte[] data, IntFunction<? extends Receipt> receipts) {
    String id = h == null ? null : h.getFirst(H_ID);
    String atText = h == null ? null : h.getFirst(H_AT);
    String countText = h == null ? null : h.getFirst(H_COUNT);
    if (id == null || atText == null || countText == null) {
      throw new IllegalArgumentException(
          "not a millrace message: headers "
              + H_ID
              + ", "
              + H_AT
              + " and "
              + H_COUNT
              + " are required");
    }
    long at;
    int count;
    try {
      at = Long.parseLong(atText);
      count = Integer.parseInt(countText);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad " + H_AT + " or " + H_COUNT + " header");
    }
    List<Job> jobs = new ArrayList<>(Math.max(0, Math.min(count, 1 << 16)));
    int from = 0;
    if (data != null && data.length > 0) {
      for (int i = 0; i <= data.length; i++) {
        if (i == data.length || data[i] == '\n') {
          if (i == from) {
            throw new IllegalArgumentException("empty payload at index " + jobs.size());
          }
          byte[] payload = Arrays.copyOfRange(data, from, i);
          jobs.add(new Job(id + "-" + jobs.size(), at, payload, receipts.apply(jobs.size())));
          from = i + 1;
        }
      }
    }
    if (jobs.size() != count) {
      throw new IllegalArgumentException(
          "the message holds "
              + jobs.size()
              + " payloads, its "
              + H_COUNT
              + " header says "
              + count);
    }
    return jobs;
  }

  /**
   * {@return the headers of a dead letter: the original ones (but those that would make JetStream
   * refuse or deduplicate the copy), and why, how often, which sequence}
   */
  static Headers deadLetterHeaders(Message m, String reason, long delivered) {
    Headers h = new Headers();
    Headers original = m.getHeaders();
    if (original != null) {
      for (String key : original.keySet()) {
        if (!key.equalsIgnoreCase("Nats-Msg-Id") && !key.startsWith("Nats-Expected")) {
          h.put(key, original.get(key));
        }
      }
    }
    h.put(H_ERROR, reason.length() > 500 ? reason.substring(0, 500) : reason);
    h.put(H_DELIVERIES, Long.toString(delivered));
    h.put(H_SEQUENCE, Long.toString(m.metaData().streamSequence()));
    return h;
  }
}
