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
  List<Job> jobs = List.of(); // set once, before the delivery is shared
  int pending;
  boolean settled;

  Delivery(Deliveries owner, Message msg, long delivered) {
    this.owner = owner;
    this.msg = msg;
    this.delivered = delivered;
  }

  /** {@return the stream sequence of the message, for logs and dead letters} */
  long sequence() {
    return msg.metaData().streamSequence();
  }

  /** The receipt of one payload of a delivered message. */
  static final class Held implements Receipt {
    final Delivery delivery;
    boolean acked; // stored, or its message given back; guarded by the owner's lock

    Held(Delivery delivery) {
      this.delivery = delivery;
    }
  }
}
