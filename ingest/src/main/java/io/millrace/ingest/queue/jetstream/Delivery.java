package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.queue.Job;
import io.millrace.ingest.queue.Receipt;
import io.nats.client.Message;
import java.util.List;

/**
 * One delivered message: its jobs, how many of them are not yet stored, and whether it is settled
 * (acked, given back or dead-lettered). The mutable fields are guarded by the owning {@link
 * Deliveries}' lock.
 */
final class Delivery {
  final Deliveries owner;
  final Message msg;
  final long delivered;
  final long seq;
  private final String message;
  List<Job> jobs = List.of(); // set once, before the delivery is shared
  int pending;
  boolean settled;
  // delivered here again while held: the newer delivery carries its payloads from then on
  boolean superseded;

  Delivery(Deliveries owner, Message msg, long delivered) {
    this.owner = owner;
    this.msg = msg;
    this.delivered = delivered;
    this.seq = msg.metaData().streamSequence();
    String id = msg.hasHeaders() ? msg.getHeaders().getFirst(Codec.H_ID) : null;
    this.message = seq + " " + id;
  }

  /** {@return what tells the message from any other: its stream sequence and its id} */
  String message() {
    return message;
  }

  /** {@return the stream sequence of the message, for logs and dead letters} */
  long sequence() {
    return seq;
  }

  /** The receipt of one payload of a delivered message. */
  static final class Held implements Receipt {
    final Delivery delivery;
    final int index; // the payload's index in its message
    boolean acked; // stored, or its message given back; guarded by the owner's lock
    // in a batch rebuilt from the ledger (not to be handed out through jobs()); guarded by the lock
    boolean rebuilding;

    Held(Delivery delivery, int index) {
      this.delivery = delivery;
      this.index = index;
    }
  }

  /**
   * The receipt of a payload read back by its sequence to rebuild a batch, its message held by
   * another worker (or nobody): acknowledging it does nothing here; whoever holds the message
   * acknowledges it once it finds the batch stored.
   */
  static final class Foreign implements Receipt {
    static final Foreign INSTANCE = new Foreign();

    private Foreign() {}
  }
}
