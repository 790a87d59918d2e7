package io.millrace.ingest.http;

/**
 * Every reason the service answers a request with an error, as a closed set: {@link Problems} maps
 * each to its status, RFC 9457 body and headers, in one place.
 */
sealed interface Problem {
  /** No resource here (an unknown path, or payloads sent to a worker node). */
  record NotFound(String detail) implements Problem {}

  /** Another method than the resource takes; {@code allow} is the {@code Allow} header. */
  record MethodNotAllowed(String allow, String use) implements Problem {}

  /** API keys are configured and the request carries none of them. */
  record Unauthorized() implements Problem {}

  /** The service has not finished starting: nothing is admitted yet. */
  record Starting() implements Problem {}

  /** The service is shutting down: nothing is admitted any more. */
  record ShuttingDown() implements Problem {}

  /** The {@code Idempotency-Key} header is not 1..128 visible ASCII characters. */
  record BadIdempotencyKey() implements Problem {}

  /** The {@code Content-Type} is neither JSON nor NDJSON. */
  record UnsupportedMediaType() implements Problem {}

  /** The {@code Content-Encoding} is neither gzip nor absent. */
  record UnsupportedEncoding() implements Problem {}

  /** The body, or what it holds, is larger than allowed; the connection is closed after. */
  record TooLarge(String detail) implements Problem {}

  /** The gzip body is corrupt or truncated. */
  record BadGzip() implements Problem {}

  /** The body ended early (truncated, wrong length, bad chunk); the connection is closed after. */
  record IncompleteBody(String cause) implements Problem {}

  /** The body is not a document of payloads; {@code detail} says why. */
  record Malformed(String detail) implements Problem {}

  /** The queue is full: nothing was admitted. */
  record QueueFull(int retryAfterSeconds) implements Problem {}

  /** The queue cannot be reached or did not acknowledge in time: nothing was admitted. */
  record QueueUnavailable(int retryAfterSeconds, String reason) implements Problem {}

  /**
   * The queue's own storage failed while writing the request (disk full, I/O error): nothing was
   * admitted; {@code diskFull} tells the two apart.
   */
  record StorageFailed(boolean diskFull, String detail) implements Problem {}

  /** Readiness fails; {@code reasons} lists why. */
  record NotReady(String reasons) implements Problem {}
}
