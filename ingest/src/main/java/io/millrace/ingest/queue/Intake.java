package io.millrace.ingest.queue;

import java.util.List;

/**
 * The admission side of a queue, what the HTTP layer uses: admits a request's payloads all or none.
 * Only a role that admits gets one.
 *
 * <p>Thread-safe: {@link #admit} is called from many request threads at once.
 */
public interface Intake {

  /**
   * Admits every payload, in order, or none. Assigns each an id.
   *
   * @param payloads compact JSON payloads, each non-empty
   * @return what happened to the request, as a whole
   */
  default Admission admit(List<byte[]> payloads) {
    return admit(payloads, null);
  }

  /**
   * Admits every payload, in order, or none, unless a request with the same idempotency key was
   * admitted within the queue's duplicate window: then nothing new is admitted and the answer is
   * {@link Admission.Replayed}. A request larger than the queue can ever hold is {@link
   * Admission.TooLarge}. May block for as long as the queue's own acknowledgement takes (a durable
   * queue); never longer than its configured timeout. A request answered anything but {@link
   * Admission.Admitted} or {@link Admission.Replayed} is not admitted later either, except that a
   * request already handed to a broker when its acknowledgement timed out may have landed (the
   * answer says so).
   *
   * @param payloads compact JSON payloads, each non-empty
   * @param idempotencyKey the client's {@code Idempotency-Key}, or null
   * @return what happened to the request, as a whole
   */
  Admission admit(List<byte[]> payloads, String idempotencyKey);

  /**
   * Stops admission: later {@link #admit} calls answer {@link Admission.ShuttingDown}. Requests
   * already inside {@link #admit} still get their own answer.
   */
  void closeAdmission();

  /**
   * {@return why admission would refuse right now (broker unreachable, queue saturated), or null}
   */
  String notReadyReason();
}
