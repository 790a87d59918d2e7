package io.millrace.ingest.queue.jetstream;

import io.millrace.ingest.queue.Admission;
import io.nats.client.JetStreamApiException;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * What a failed publish means for the client: the answer to give, and whether the stream itself is
 * gone (deleted, or a broker came back without it), so that the keeper provisions it again.
 * Stateless.
 */
final class PublishErrors {
  private PublishErrors() {}

  /** {@return the cause inside {@link CompletionException}s and {@link ExecutionException}s} */
  static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /**
   * {@return the answer when no acknowledgement came in time for a request handed to the broker (it
   * may still land)}
   *
   * @param keyed whether the request had an {@code Idempotency-Key} (a retry with it is safe)
   */
  static Admission.Unavailable timedOut(long timeoutMs, boolean keyed) {
    return new Admission.Unavailable(
        2,
        "JetStream did not acknowledge within "
            + timeoutMs
            + " ms; "
            + (keyed
                ? "retry with the same Idempotency-Key to be admitted once"
                : "the request may still land; retry with an Idempotency-Key to be admitted once"));
  }

  /**
   * {@return the answer when the request waited for its turn longer than the timeout and was
   * withdrawn before it was sent: nothing was admitted}
   */
  static Admission.Unavailable notSent(long timeoutMs) {
    return new Admission.Unavailable(
        2,
        "JetStream did not acknowledge within "
            + timeoutMs
            + " ms; the request was not sent and nothing was admitted: retry");
  }

  /** {@return the answer for a publish that failed with this cause (a timeout, a refusal, ...)} */
  static Admission answer(Throwable failure, long timeoutMs, boolean keyed) {
    Throwable cause = unwrap(failure);
    if (cause instanceof TimeoutException) {
      return timedOut(timeoutMs, keyed);
    }
    String text = text(cause);
    if (text != null && (text.contains("maximum bytes") || text.contains("maximum messages"))) {
      return new Admission.QueueFull(1); // the stream's limits: discard-new refuses
    }
    return new Admission.Unavailable(2, "JetStream refused the publish: " + text);
  }

  /**
   * {@return the problem to report when the failure means the stream is gone (the keeper then
   * recreates it), or null}
   */
  static String streamGone(Throwable failure, String stream) {
    Throwable cause = unwrap(failure);
    String text = text(cause);
    if (cause instanceof JetStreamApiException je && Topology.streamNotFound(je.getApiErrorCode())
        || text != null && text.toLowerCase(Locale.ROOT).contains("no responders")) {
      return "JetStream stream " + stream + " unavailable: " + text;
    }
    return null;
  }

  private static String text(Throwable cause) {
    return cause instanceof JetStreamApiException je
        ? je.getErrorDescription()
        : String.valueOf(cause.getMessage());
  }
}
